"""Many clients at once against one real server: one filename raced with different bytes, the
same bytes raced, and uploads under read load. Counts are asserted, and the stored state after."""

from __future__ import annotations

import concurrent.futures
from collections import Counter

import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo

pytestmark = pytest.mark.slow  # real servers, killed and restarted: a scenario, not a unit


def _rows_and_blobs(repo: Repo) -> tuple[set[str], set[str]]:
    rows = {row[0] for row in repo.server.state.rows("SELECT sha256 FROM files")}
    return rows, {path.rsplit("/", 1)[-1] for path in repo.server.blobs()}


def test_twenty_uploads_of_one_filename_with_different_bytes_have_one_winner(live_repo: Repo) -> None:
    repo = live_repo

    def upload(index: int) -> int:
        return repo.upload("race-1.0-py3-none-any.whl", d.wheel("race", salt=f"writer {index}")).status_code

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = Counter(pool.map(upload, range(20)))
    assert statuses == {200: 1, 400: 19}
    with repo.client() as api:
        (stored,) = api.get(f"{repo.manage}/packages/race").json()["files"]
    with repo.raw() as http:
        assert http.get(stored["download_url"]).status_code == 200
    rows, blobs = _rows_and_blobs(repo)
    assert stored["sha256"] in rows and rows <= blobs
    assert not any(repo.server.state.staging.glob("incoming-*"))


def test_the_same_bytes_raced_are_all_accepted_once(live_repo: Repo) -> None:
    repo = live_repo
    content = d.wheel("same")
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = Counter(pool.map(lambda _: repo.upload("same-1.0-py3-none-any.whl", content).status_code, range(10)))
    assert statuses == {200: 10}
    with repo.client() as api:
        assert len(api.get(f"{repo.manage}/packages/same").json()["files"]) == 1


def test_uploads_under_read_load_lose_nothing(live_repo: Repo) -> None:
    repo = live_repo

    def upload(index: int) -> int:
        return repo.upload(f"loaded{index}-1.0-py3-none-any.whl", d.wheel(f"loaded{index}")).status_code

    def read(_: int) -> int:
        with repo.raw("viewer") as http:
            return max(http.get(repo.simple).status_code, http.get(repo.simple + "loaded0/").status_code)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        uploads = pool.map(upload, range(30))
        reads = pool.map(read, range(60))
        upload_statuses, read_statuses = Counter(uploads), Counter(reads)
    assert upload_statuses == {200: 30}
    assert all(status < 500 for status in read_statuses)
    rows, blobs = _rows_and_blobs(repo)
    assert rows <= blobs
    with repo.client() as api:
        names = {p["normalized_name"] for p in api.get(f"{repo.manage}/packages").json()}
    assert {f"loaded{index}" for index in range(30)} <= names
