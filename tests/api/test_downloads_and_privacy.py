"""Downloads, and the rule that client endpoints never tell a private thing from a missing one."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.support import distbuilder as d
from tests.support.harness import LiveServer, Repo

WHEEL = d.wheel()


def _upload(repo: Repo) -> dict[str, str]:
    with repo.client() as api:
        response = api.post(f"{repo.manage}/files", files={"file": ("demo-1.0-py3-none-any.whl", WHEEL)})
        assert response.status_code == 201
        return response.json()["file"]


def test_download_streams_the_exact_bytes(repo: Repo) -> None:
    file = _upload(repo)
    with repo.raw() as http:
        response = http.get(file["download_url"])
    assert response.status_code == 200
    assert response.content == WHEEL
    assert hashlib.sha256(response.content).hexdigest() == file["sha256"]
    if response.history:  # sent to the object store: the redirect itself is never cached
        (redirect,) = response.history
        assert redirect.status_code == 302 and redirect.headers["cache-control"] == "private, no-store"
        assert "X-Amz-Signature=" in redirect.headers["location"]
        assert "authorization" not in response.request.headers, "the index's key went to the store"
    else:
        assert response.headers["etag"] == f'"{file["sha256"]}"'


def test_range_requests(repo: Repo) -> None:
    file = _upload(repo)
    with repo.raw() as http:
        response = http.get(file["download_url"], headers={"Range": "bytes=0-9"})
    assert response.status_code == 206 and response.content == WHEEL[:10]


@pytest.mark.parametrize("suffix", ["", ".metadata"])
def test_wrong_filename_is_404(repo: Repo, suffix: str) -> None:
    file = _upload(repo)
    wrong = file["download_url"].replace("demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl") + suffix
    with repo.raw() as http:
        assert http.get(wrong).status_code == 404


def _not_found(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in {"date", "x-request-id"}}  # per request
    return response.status_code, response.content, headers


def test_inaccessible_is_identical_to_missing(repo: Repo) -> None:
    file = _upload(repo)
    missing_file = file["download_url"].replace(file["id"], "00000000-0000-0000-0000-000000000000")
    missing_repo = repo.simple.replace(f"/{repo.slug}/", "/no-such-repo/")
    with repo.raw("outsider") as outsider, repo.raw() as owner:
        reference = _not_found(owner.get(missing_file))
        assert reference[0] == 404
        for url in (file["download_url"], file["download_url"] + ".metadata", repo.simple, repo.simple + "demo/"):
            assert _not_found(outsider.get(url)) == reference, url
        assert _not_found(owner.get(missing_repo)) == reference
        assert _not_found(owner.get(repo.simple + "absent/")) == reference


@pytest.mark.parametrize(
    "auth",
    [None, ("__token__", "wrong-key"), ("someone", "wrong-key")],
    ids=["missing", "wrong-key", "wrong-user"],
)
def test_client_endpoints_ask_for_basic_credentials(repo: Repo, auth: tuple[str, str] | None) -> None:
    file = _upload(repo)
    with repo.server.http(auth=auth) as http:
        for response in (http.get(repo.simple), http.get(file["download_url"]), http.post(repo.legacy)):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Basic ")


def test_basic_with_a_real_username_and_bearer_both_work(repo: Repo) -> None:
    with repo.server.http(auth=("admin", repo.server.admin_key)) as http:
        assert http.get(repo.simple).status_code == 200
    with repo.server.http(headers={"Authorization": f"Bearer {repo.keys['viewer']}"}) as http:
        assert http.get(repo.simple).status_code == 200


def test_garbled_authorization_is_401_not_500(repo: Repo) -> None:
    for header in ("Basic !!!", "Basic " + "dXNlcm5hbWU=", "Digest abc", "Bearer"):
        with repo.server.http(headers={"Authorization": header}) as http:
            assert http.get(repo.simple).status_code == 401, header


def test_many_concurrent_downloads_of_a_large_file(live_repo: Repo) -> None:
    """Through a real server: memory-mapped slices under uvicorn's transport."""
    import concurrent.futures
    import os

    repo = live_repo
    big = d.zip_bytes({**d.wheel_members("big"), "big/data.bin": os.urandom(4 * 1024 * 1024)}, compression=0)
    with repo.client() as api:
        file = api.post(f"{repo.manage}/files", files={"file": ("big-1.0-py3-none-any.whl", big)}).json()["file"]

    def fetch(_: int) -> bytes:
        with repo.raw() as http:
            return http.get(file["download_url"]).content

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(fetch, range(48)))
    assert all(body == big for body in bodies)
    assert isinstance(repo.server, LiveServer) and repo.server.log_path is not None
    assert "Traceback" not in repo.server.log_path.read_text()
