"""Repository kinds through the management API: settings validation, virtual members, upload routing."""

from __future__ import annotations

import httpx
import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo


def _create(repo: Repo, **payload: object) -> httpx.Response:
    with repo.client() as api:
        return api.post(f"/spaces/{repo.space}/package-repositories", json={"name": "K", **payload})


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "proxy"}, "remote_url"),
        ({"kind": "proxy", "remote_url": "ftp://mirror/simple/"}, "remote_url"),
        ({"kind": "proxy", "remote_url": "http://mirror/simple/", "cache_ttl": -1}, "cache_ttl"),
        ({"kind": "proxy", "remote_url": "http://mirror/simple/", "file_mode": "teleport"}, "file_mode"),
        ({"kind": "hosted", "remote_url": "http://mirror/simple/"}, "remote_url"),
        ({"kind": "virtual"}, "members"),
        ({"kind": "virtual", "members": ["not-a-repository"]}, "members[0]"),
        ({"kind": "virtual", "members": [1]}, "members"),
        ({"kind": "proxy", "remote_url": "http://mirror/simple/", "merge": True}, "merge"),
        ({"kind": "mirror"}, "kind"),
    ],
)
def test_kind_validation(repo: Repo, payload: dict, field: str) -> None:
    response = _create(repo, **payload)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_virtual_member_and_target_rules(repo: Repo) -> None:
    proxy = _create(repo, slug="p", kind="proxy", remote_url="http://mirror.invalid/simple/").json()
    virtual = _create(repo, slug="v", kind="virtual", members=[repo.id, proxy["id"]]).json()
    assert virtual["members"] == [repo.id, proxy["id"]] and virtual["upload_target_id"] is None
    nested = _create(repo, slug="n", kind="virtual", members=[virtual["id"]])
    assert nested.status_code == 422 and nested.json()["errors"][0]["field"] == "members[0]"
    to_proxy = _create(repo, slug="t", kind="virtual", members=[proxy["id"]], upload_target_id=proxy["id"])
    assert to_proxy.status_code == 422 and to_proxy.json()["errors"][0]["field"] == "upload_target_id"
    with repo.client() as api:
        patched = api.patch(
            f"/spaces/{repo.space}/package-repositories/{virtual['id']}", json={"upload_target_id": repo.id}
        )
        assert patched.status_code == 200 and patched.json()["upload_target_id"] == repo.id


def test_uploads_go_only_to_hosted_repositories(repo: Repo) -> None:
    proxy = _create(repo, slug="p", kind="proxy", remote_url="http://mirror.invalid/simple/").json()
    virtual = _create(repo, slug="v", kind="virtual", members=[proxy["id"], repo.id]).json()
    with repo.raw() as http:
        for target, message in ((proxy, "is a proxy of another index"), (virtual, "names no upload target")):
            refused = http.post(target["upload_url"].removeprefix(repo.server.url),
                                data={":action": "file_upload", "protocol_version": "1"},
                                files={"content": ("demo-1.0-py3-none-any.whl", d.wheel())})  # fmt: skip
            assert refused.status_code == 409 and message in refused.text
    with repo.client() as api:
        api.patch(f"/spaces/{repo.space}/package-repositories/{virtual['id']}", json={"upload_target_id": repo.id})
        uploaded = api.post(f"/spaces/{repo.space}/package-repositories/{virtual['id']}/files",
                            files={"file": ("demo-1.0-py3-none-any.whl", d.wheel())})  # fmt: skip
        assert uploaded.status_code == 201 and uploaded.json()["file"]["repository_id"] == repo.id
        assert api.get(f"{repo.manage}/packages/demo").status_code == 200


def test_a_proxy_of_an_internal_address_is_refused(repo: Repo) -> None:
    # The upstream is this very server, which would answer 200 for "demo" with these credentials;
    # the test server does not allow private targets, so the proxy never asks it.
    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200
    upstream = repo.server.url + repo.simple
    proxy = _create(repo, slug="p", kind="proxy", remote_url=upstream, upstream_username="__token__",
                    upstream_password=repo.keys["viewer"]).json()  # fmt: skip
    with repo.raw() as http:
        assert http.get(upstream.removeprefix(repo.server.url) + "demo/").status_code == 200
        assert http.get(proxy["simple_index_url"].removeprefix(repo.server.url) + "demo/").status_code == 404
