"""Storage that fails under the server: a full disk, a database lock held by someone else, blobs
deleted or truncated behind its back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.blobs import FullDiskBlobStore
from tests.support import distbuilder as d
from tests.support.harness import Command, LiveServer, Repo, live_server, make_repo
from tests.support.inprocess import InProcessServer, inprocess_server

pytestmark = pytest.mark.slow  # real servers, killed and restarted: a scenario, not a unit


@pytest.fixture
def nearly_full(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server whose disk has 200 KB left."""
    store = FullDiskBlobStore(tmp_path / "staging", free=200_000)
    with inprocess_server(tmp_path / "data", blobs=store) as running:
        yield running


def test_a_full_disk_is_507_audited_and_the_server_keeps_serving(nearly_full: InProcessServer) -> None:
    repo = make_repo(nearly_full)
    assert repo.upload("small-1.0-py3-none-any.whl", d.wheel("small")).status_code == 200
    big = d.zip_bytes({**d.wheel_members("big"), "big/data.bin": bytes(range(256)) * 4096}, compression=0)
    refused = repo.upload("big-1.0-py3-none-any.whl", big)
    assert refused.status_code == 507 and "storage is full" in refused.text
    with repo.client() as api:
        (event,) = [e for e in api.get("/admin/audit", params={"q": "big-1.0", "space": repo.space}).json()]
        assert (event["status"], event["outcome"]) == (507, "failed")
        assert api.get(f"{repo.manage}/packages/big").status_code == 404  # nothing kept
    with repo.raw("viewer") as http:
        assert http.get(repo.simple + "small/").status_code == 200
    assert not list((nearly_full.data_dir.parent / "staging").glob("incoming-*"))


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Writers wait one second for the write lock."""
    with live_server(tmp_path_factory.mktemp("locked") / "data", database_lock_timeout="1") as running:
        yield running


def test_a_held_write_lock_delays_no_read_and_turns_writes_into_503(impatient: LiveServer) -> None:
    repo = make_repo(impatient)
    assert repo.upload("before-1.0-py3-none-any.whl", d.wheel("before")).status_code == 200
    with impatient.state.writes_held():
        with repo.raw("editor") as http:  # a key never used before: its use must not need the lock
            started = time.monotonic()
            assert http.get(repo.simple + "before/").status_code == 200
            assert time.monotonic() - started < 1.0
        refused = repo.upload("during-1.0-py3-none-any.whl", d.wheel("during"))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
        assert "busy" in refused.text
    assert repo.upload("during-1.0-py3-none-any.whl", d.wheel("during")).status_code == 200


def test_deleted_and_truncated_blobs_are_clean_errors_and_check_finds_them(repo: Repo, command: Command) -> None:
    for name in ("gone", "cut", "fine"):
        assert repo.upload(f"{name}-1.0-py3-none-any.whl", d.wheel(name)).status_code == 200
    with repo.client() as api:
        files = {p["name"]: p["files"][0] for p in api.get(f"{repo.manage}/packages").json()}
    state = repo.server.state

    def blob_of(name: str) -> str:
        sha = files[name]["sha256"]
        return f"{sha[:2]}/{sha[2:4]}/{sha}"

    state.delete_blob(blob_of("gone"))
    state.write_blob(blob_of("cut"), b"x" * 100)
    with repo.raw("viewer") as http:
        for name in ("gone", "cut"):
            url = files[name]["download_url"]
            for method in ("GET", "HEAD"):
                response = http.request(method, url)
                assert response.status_code == 503, (name, method)
        assert http.get(files["fine"]["download_url"]).status_code == 200
    checked = command("check", "--data-dir", repo.server.data_dir)
    assert checked.returncode == 1
    assert "gone-1.0-py3-none-any.whl" in checked.stdout and "its blob is missing" in checked.stdout
    assert "cut-1.0-py3-none-any.whl" in checked.stdout and "instead of" in checked.stdout
    assert "fine-1.0" not in checked.stdout
