"""GET /health, and the audit log of every mutation whatever its outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.fakes.blobs import BrokenBlobStore
from tests.support import distbuilder as d
from tests.support.harness import LiveServer, Repo, live_server, make_repo
from tests.support.inprocess import inprocess_server


def test_health_is_public_and_says_nothing_about_configuration(server: LiveServer) -> None:
    response = server.http().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "blob_store": "ok"}}
    assert str(server.data_dir) not in response.text and "sqlite" not in response.text
    assert response.headers["cache-control"] == "no-store"


@pytest.fixture
def disposable_server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "data") as running:
        yield running


@pytest.mark.backend("sqlite")
def test_health_is_503_when_the_blob_store_is_gone(disposable_server: LiveServer) -> None:
    blobs = disposable_server.data_dir / "blobs"
    blobs.rename(blobs.with_name("blobs-away"))
    try:
        response = httpx.get(disposable_server.url + "/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "blob_store": "unavailable"}}
        assert "blobs" not in response.text
    finally:
        blobs.with_name("blobs-away").rename(blobs)
    assert httpx.get(disposable_server.url + "/health").status_code == 200


@pytest.mark.backend("postgres")
def test_health_is_503_when_the_bucket_is_gone(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", s3_bucket="no-such-bucket") as server:
        response = httpx.get(server.url + "/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "blob_store": "unavailable"}}
        assert "no-such-bucket" not in response.text


def _events(client: httpx.Client, **params: str | int) -> list[dict]:
    response = client.get("/admin/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_mutations_are_recorded_with_their_outcome(repo: Repo) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200
    assert repo.upload("demo-1.0.tar.bz2", d.sdist()).status_code == 400
    assert repo.upload("demo-2.0-py3-none-any.whl", d.wheel(version="2.0"), role="viewer").status_code == 403
    with repo.client() as admin:
        file_id = admin.get(f"{repo.manage}/packages/demo").json()["files"][0]["id"]
        admin.patch(
            f"/spaces/{repo.space}/package-repositories/files/{file_id}/yank", json={"yanked": True}
        ).raise_for_status()
        admin.delete(f"/spaces/{repo.space}/package-repositories/files/{file_id}").raise_for_status()
        events = _events(admin, space=repo.space, since=started.isoformat())
    by_action = {(e["action"], e["outcome"]) for e in events}
    assert {("upload", "success"), ("upload", "failed"), ("upload", "denied"), ("yank_file", "success"),
            ("delete_file", "success")} <= by_action  # fmt: skip
    upload = next(e for e in events if e["action"] == "upload" and e["outcome"] == "success")
    assert upload["resource_type"] == "file" and upload["resource_id"] == file_id
    assert upload["actor"] and upload["space"] == repo.space and upload["status"] == 200
    assert "demo-1.0-py3-none-any.whl" in upload["detail"]
    refused = next(e for e in events if e["action"] == "upload" and e["outcome"] == "failed")
    assert "Invalid file extension" in refused["detail"] and refused["status"] == 400
    assert [e["occurred_at"] for e in events] == sorted((e["occurred_at"] for e in events), reverse=True)


def test_each_upload_is_recorded_once_with_its_door_s_status(repo: Repo) -> None:
    """A new file's success row is written in the transaction that records the file (it commits
    with it or not at all); the wrapper adds none of its own, and a file that was there already
    is recorded as before."""
    started = datetime.now(UTC) - timedelta(seconds=1)
    assert repo.upload("twine-1.0-py3-none-any.whl", d.wheel("twine")).status_code == 200
    with repo.client() as api:
        files = {"file": ("api-1.0-py3-none-any.whl", d.wheel("api"))}
        created = api.post(f"{repo.manage}/files", files=files)
        again = api.post(f"{repo.manage}/files", files=files)
        assert (created.status_code, again.status_code) == (201, 200)
        events = _events(api, space=repo.space, since=started.isoformat())
    twine = [e for e in events if e["action"] == "upload"]
    managed = [e for e in events if e["action"] == "upload_file"]
    assert [(e["status"], e["outcome"], e["resource_name"]) for e in twine] == [
        (200, "success", "twine-1.0-py3-none-any.whl")
    ]
    assert sorted((e["status"], e["resource_id"]) for e in managed) == sorted(
        [(201, created.json()["file"]["id"]), (200, created.json()["file"]["id"])]
    )
    assert all("api-1.0-py3-none-any.whl" in e["detail"] for e in managed)


def test_filters(repo: Repo, server: LiveServer) -> None:
    assert repo.upload("filtered-1.0-py3-none-any.whl", d.wheel("filtered")).status_code == 200
    with server.admin() as admin:
        assert all(e["resource_type"] == "repository" for e in _events(admin, resource_type="repository"))
        found = _events(admin, q="FILTERED-1.0")
        assert found and all("filtered-1.0" in e["detail"] for e in found)
        assert len(_events(admin, limit=1)) == 1
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert _events(admin, since=future) == []
        assert _events(admin, until="2000-01-01") == []
        for params, field in (({"limit": 0}, "limit"), ({"limit": "x"}, "limit"), ({"since": "yesterday"}, "since"),
                              ({"colour": "red"}, "colour")):  # fmt: skip
            response = admin.get("/admin/audit", params=params)
            assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


def test_space_admins_see_their_spaces_only(repo: Repo, server: LiveServer) -> None:
    other = make_repo(server)
    with other.client() as other_admin:
        other_admin.post(f"/spaces/{other.space}/package-repositories", json={"name": "Elsewhere"}).raise_for_status()
    with repo.client() as space_admin:
        spaces = {e["space"] for e in _events(space_admin, limit=1000)}
        assert spaces == {repo.space}
        assert space_admin.get("/admin/audit", params={"space": other.space}).status_code == 404
    with repo.client("editor") as editor:
        assert editor.get("/admin/audit").status_code == 403


def test_new_keys_are_never_logged(repo: Repo, server: LiveServer) -> None:
    with server.admin() as admin:
        user = admin.post("/users", json={"username": server.unique("keyholder")}).json()
        key = admin.post(f"/users/{user['username']}/api-keys", json={"name": "ci"}).json()
        events = _events(admin, resource_type="api_key", limit=5)
    event = next(e for e in events if e["resource_id"] == key["id"])
    assert event["action"] == "create_api_key" and event["outcome"] == "success"
    assert key["key"] not in json.dumps(events)


def test_q_finds_events_by_the_name_of_what_they_touched(repo: Repo) -> None:
    """By slug or filename, not only by id (the CodeScoring seed's ``q=pypi-proxy``)."""
    with repo.client() as admin:
        created = admin.post(
            f"/spaces/{repo.space}/package-repositories", json={"name": "Proxy", "slug": "pypi-proxy-x"}
        ).json()
        admin.patch(f"/spaces/{repo.space}/package-repositories/{created['id']}", json={"description": "upstream"})
        admin.delete(f"/spaces/{repo.space}/package-repositories/{created['id']}").raise_for_status()
        named = _events(admin, q="pypi-proxy-x", space=repo.space)
    assert [e["action"] for e in named] == ["delete_repository", "update_repository", "create_repository"]
    assert all(e["resource_name"] == "pypi-proxy-x" and e["resource_id"] == created["id"] for e in named)
    assert repo.upload("named-1.0-py3-none-any.whl", d.wheel("named")).status_code == 200
    with repo.client() as admin:
        (upload,) = _events(admin, q="named-1.0-py3", resource_type="file")
    assert upload["resource_name"] == "named-1.0-py3-none-any.whl"
    with repo.client() as admin:  # LIKE wildcards in q are taken literally
        assert _events(admin, q="named%1.0", space=repo.space) == []


def test_a_server_error_in_an_upload_is_audited_as_failed(tmp_path: Path) -> None:
    store = BrokenBlobStore(tmp_path / "staging")
    with inprocess_server(tmp_path / "data", blobs=store) as broken:
        repo = make_repo(broken)
        with pytest.raises(RuntimeError, match="controller"):  # in process, the error reaches the test
            repo.upload("doomed-1.0-py3-none-any.whl", d.wheel("doomed"))
        with repo.client() as api:
            (event,) = _events(api, q="doomed-1.0", space=repo.space)
    assert (event["status"], event["outcome"], event["action"]) == (500, "failed", "upload")
    assert "internal error (RuntimeError)" in event["detail"]
