"""Promotion from staging to prod, with twine uploading to staging and pip and uv installing from a
virtual repository over prod: it serves a release only once it is promoted."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.clients import Clients, make_project
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("promotion") / "data") as running:
        yield running


@pytest.fixture
def staging(server: LiveServer) -> Repo:
    return make_repo(server)


def _repository(staging: Repo, name: str, **settings: object) -> dict:
    with staging.client() as api:
        made = api.post(f"/spaces/{staging.space}/package-repositories", json={"name": name, **settings})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _promote(staging: Repo, role: str = "member", **body: object) -> tuple[int, dict]:
    with staging.client(role) as api:
        answer = api.post(f"{staging.manage}/promotions", json=body)
    return answer.status_code, answer.json()


def test_promoted_releases_reach_a_virtual_repository_over_prod(
    server: LiveServer, staging: Repo, tmp_path: Path
) -> None:
    prod = _repository(staging, "Prod")
    virtual = _repository(staging, "Builds", kind="virtual", members=[prod["id"]])
    clients = Clients(tmp_path / "home")
    built = clients.build(make_project(tmp_path / "src", "shipit", "1.0"), tmp_path / "dist")
    clients.twine_upload(server.url + staging.legacy, staging.keys["member"], *built)
    index = virtual["simple_index_url"].replace("http://", f"http://__token__:{staging.keys['viewer']}@")

    def installs(tool: str) -> bool:
        target = tmp_path / f"{tool}-{len(list(tmp_path.iterdir()))}"
        if tool == "pip":
            done = clients.pip("install", "--no-cache-dir", "--index-url", index, "--target", target, "shipit",
                               check=False)  # fmt: skip
        else:
            done = clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url", index,
                              "--target", target, "shipit", check=False)  # fmt: skip
        return done.returncode == 0

    assert not installs("pip") and not installs("uv")  # only in staging so far
    blobs_before = server.blobs()
    status, promoted = _promote(staging, package="shipit", version="1.0", target_repository_id=prod["id"])
    assert status == 201 and len(promoted["promoted"]) == 2 and promoted["already_there"] == []
    assert installs("pip") and installs("uv")
    assert server.blobs() == blobs_before  # the copies share the staging files' blobs
    with staging.client() as api:
        source = {f["filename"]: f for f in api.get(f"{staging.manage}/packages/shipit").json()["files"]}
        copies = api.get(f"/spaces/{staging.space}/package-repositories/{prod['id']}/packages/shipit").json()
    for copy in copies["files"]:
        original = source[copy["filename"]]
        assert copy["uploaded_at"] == original["uploaded_at"] and copy["sha256"] == original["sha256"]
        assert copy["source"] == "promotion" and copy["promoted_from"]["file_id"] == original["id"]
        assert copy["promoted_from"]["repository"] == staging.slug
    again, repeated = _promote(staging, package="shipit", version="1.0", target_repository_id=prod["id"])
    assert again == 200 and repeated["promoted"] == [] and len(repeated["already_there"]) == 2


def test_a_promotion_is_all_files_or_none(staging: Repo) -> None:
    prod = _repository(staging, "Prod")
    assert staging.upload("tool-1.0-py3-none-any.whl", d.wheel("tool", "1.0")).status_code == 200
    assert staging.upload("tool-1.0.tar.gz", d.sdist("tool", "1.0")).status_code == 200
    with staging.client() as api:  # prod already has the wheel's name with other bytes
        other_bytes = d.wheel("tool", "1.0", salt="other")
        clash = api.post(f"/spaces/{staging.space}/package-repositories/{prod['id']}/files",
                         files={"file": ("tool-1.0-py3-none-any.whl", other_bytes)})  # fmt: skip
        assert clash.status_code == 201
    status, refused = _promote(staging, package="tool", version="1.0", target_repository_id=prod["id"])
    assert status == 409 and "with other contents" in refused["detail"]
    with staging.client() as api:
        files = api.get(f"/spaces/{staging.space}/package-repositories/{prod['id']}/packages/tool").json()["files"]
    assert [f["filename"] for f in files] == ["tool-1.0-py3-none-any.whl"]  # the sdist was not copied either
    status, chosen = _promote(staging, package="tool", version="1.0", target_repository_id=prod["id"],
                              filenames=["tool-1.0.tar.gz"])  # fmt: skip
    assert status == 201 and [f["filename"] for f in chosen["promoted"]] == ["tool-1.0.tar.gz"]


def test_promotions_are_checked(staging: Repo) -> None:
    prod = _repository(staging, "Prod")
    assert staging.upload("lib-2.0-py3-none-any.whl", d.wheel("lib", "2.0")).status_code == 200
    status, body = _promote(staging, "viewer", package="lib", version="2.0", target_repository_id=prod["id"])
    assert status == 403 and "publish" in body["detail"]
    other = make_repo(staging.server)  # a repository the member cannot see: as if it did not exist
    status, body = _promote(staging, package="lib", version="2.0", target_repository_id=other.id)
    assert status == 404
    status, body = _promote(staging, package="lib", version="9.9", target_repository_id=prod["id"])
    assert status == 404 and "lib 9.9" in body["detail"]
    status, body = _promote(staging, package="lib", version="2.0", target_repository_id=prod["id"],
                            filenames=["lib-2.0.tar.gz"])  # fmt: skip
    assert status == 422 and "not a file of this release" in str(body["errors"])
    status, body = _promote(staging, package="lib", version="2.0", target_repository_id=staging.id)
    assert status == 409
    with staging.client("admin") as api:
        events = api.get("/admin/audit", params={"resource_type": "promotion", "space": staging.space}).json()
    assert {e["status"] for e in events} == {403, 404, 409, 422}  # every refusal is in the log
    assert any(f"lib 2.0 to {prod['slug']}" in e["detail"] for e in events)
