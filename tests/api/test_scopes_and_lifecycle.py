"""Project scopes, repository lifecycle, API keys and teams through the management API."""

from __future__ import annotations

import pytest

from tests.support import distbuilder as d
from tests.support.harness import LiveServer, Repo


def _scopes(repo: Repo) -> str:
    return f"/spaces/{repo.space}/package-repositories/project-scopes"


def _create_scope(repo: Repo, **fields: object) -> dict:
    with repo.client() as api:
        response = api.post(_scopes(repo), json={"name": "Pipeline Authoring", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_scope_create_fields(repo: Repo) -> None:
    scope = _create_scope(
        repo, description="Packages for pipelines", source_type="workspace", source_id="550e8400",
        source_metadata={"owner": "data-platform"}, space_member_access_level="none",
    )  # fmt: skip
    assert scope["slug"] == "pipeline-authoring"
    assert scope["source_metadata"] == {"owner": "data-platform"}
    assert scope["space_member_access_level"] == "none"
    assert scope["effective_permissions"] == ["view", "publish", "edit", "admin"]
    with repo.client("viewer") as viewer:
        assert viewer.get(_scopes(repo)).json() == []  # "none": plain members do not see it


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "X", "slug": "Bad Slug"}, "slug"),
        ({"name": "X", "space_member_access_level": "admin"}, "space_member_access_level"),
        ({"name": "X", "colour": "red"}, "colour"),
        ({"name": "X", "source_metadata": [1]}, "source_metadata"),
        ({}, "name"),
    ],
)
def test_scope_create_validation(repo: Repo, payload: dict, field: str) -> None:
    with repo.client() as api:
        response = api.post(_scopes(repo), json=payload)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


def test_scope_create_needs_space_admin_and_unique_slug(repo: Repo) -> None:
    _create_scope(repo)
    with repo.client("editor") as editor:
        response = editor.post(_scopes(repo), json={"name": "Other"})
        assert response.status_code == 403 and "create access" in response.json()["detail"]
    with repo.client() as api:
        assert api.post(_scopes(repo), json={"name": "Pipeline Authoring"}).status_code == 409


def test_scope_update_rules(repo: Repo) -> None:
    scope = _create_scope(repo)
    path = f"{_scopes(repo)}/{scope['id']}"
    with repo.client("editor") as editor:
        renamed = editor.patch(path, json={"name": "Renamed", "slug": "renamed"})
        assert renamed.status_code == 200 and renamed.json()["slug"] == "renamed"
        level = editor.patch(path, json={"space_member_access_level": "none"})
        assert level.status_code == 403 and "admin access" in level.json()["detail"]
    with repo.client() as admin:
        assert (
            admin.patch(path, json={"space_member_access_level": "view"}).json()["space_member_access_level"] == "view"
        )
        assert admin.patch(path, json={"slug": "x y"}).status_code == 422
    with repo.client("viewer") as viewer:
        assert viewer.patch(path, json={"name": "Nope"}).status_code == 403


def test_scope_access_read_and_replace(repo: Repo, server: LiveServer) -> None:
    scope = _create_scope(repo)
    path = f"{_scopes(repo)}/{scope['id']}/access"
    with server.admin() as admin:
        team = admin.post("/teams", json={"name": server.unique("builders")}).json()
    with repo.client() as api:
        grant = {"principal_type": "team", "principal_id": team["id"], "access_level": "publish"}
        replaced = api.put(path, json={"space_member_access_level": "none", "grants": [grant]})
        assert replaced.status_code == 200, replaced.text
        document = api.get(path).json()
    assert document["project_scope_id"] == scope["id"]
    assert document["space_member_access_level"] == "none"
    assert document["grants"] == [
        {
            "principal_type": "team",
            "principal_id": team["id"],
            "principal_name": team["slug"],
            "access_level": "publish",
        }
    ]
    assert document["effective_permissions"] == ["view", "publish", "edit", "admin"]
    with repo.client("editor") as editor:
        assert editor.get(path).status_code == 404  # "none" hides the scope from plain members


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "space_member_access_level": "none",
                "grants": [
                    {
                        "principal_type": "user",
                        "principal_id": "00000000-0000-0000-0000-000000000000",
                        "access_level": "view",
                    }
                ],
            },
            "grants[0].principal_id",
        ),
        (
            {
                "space_member_access_level": "none",
                "grants": [{"principal_type": "robot", "principal_id": "x", "access_level": "view"}],
            },
            "grants[0].principal_type",
        ),
        (
            {
                "space_member_access_level": "none",
                "grants": [{"principal_type": "user", "principal_id": "x", "access_level": "owner"}],
            },
            "grants[0].access_level",
        ),
        ({"space_member_access_level": "none", "grants": ["x"]}, "grants[0]"),
        ({"space_member_access_level": "none"}, "grants"),
        ({"space_member_access_level": "admin", "grants": []}, "space_member_access_level"),
    ],
)
def test_scope_access_validation(repo: Repo, body: dict, field: str) -> None:
    scope = _create_scope(repo)
    with repo.client() as api:
        response = api.put(f"{_scopes(repo)}/{scope['id']}/access", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_project_scoped_repositories(repo: Repo) -> None:
    scope = _create_scope(repo)
    base = f"/spaces/{repo.space}/package-repositories"
    with repo.client() as api:
        both = api.post(
            base, json={"name": "Tools", "project_scope_id": scope["id"], "project_scope_slug": scope["slug"]}
        )
        assert both.status_code == 422
        assert {e["field"] for e in both.json()["errors"]} == {"project_scope_id", "project_scope_slug"}
        assert api.post(base, json={"name": "Tools", "project_scope_slug": "missing"}).status_code == 404
        created = api.post(base, json={"name": "Developer Tools", "project_scope_slug": scope["slug"]})
        assert created.status_code == 201
        document = created.json()
        # the same slug may exist space-wide and in a scope
        assert api.post(base, json={"name": "Again", "slug": "developer-tools"}).status_code == 201
    assert document["project_scope"] == {"id": scope["id"], "slug": scope["slug"], "name": scope["name"]}
    expected_root = (
        f"{repo.server.url}/api/v1.0/pypi/spaces/{repo.space}/projects/{scope['slug']}/repositories/developer-tools"
    )
    assert document["simple_index_url"] == expected_root + "/simple/"
    assert document["upload_url"] == expected_root + "/legacy/"
    with repo.raw() as http:
        legacy = document["upload_url"].removeprefix(repo.server.url)
        uploaded = http.post(legacy, data={":action": "file_upload", "protocol_version": "1"},
                             files={"content": ("demo-1.0-py3-none-any.whl", d.wheel())})  # fmt: skip
        assert uploaded.status_code == 200
        page = http.get(document["simple_index_url"].removeprefix(repo.server.url) + "demo/")
        assert page.status_code == 200 and "demo-1.0-py3-none-any.whl" in page.text
        wrong_scope = legacy.replace(f"/projects/{scope['slug']}/", "/projects/other/")
        assert http.get(wrong_scope.replace("/legacy/", "/simple/")).status_code == 404


def test_archived_repositories_serve_installs_but_refuse_uploads(repo: Repo) -> None:
    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200
    listing = f"/spaces/{repo.space}/package-repositories"
    with repo.client() as api:
        archived = api.post(f"{repo.manage}/archive")
        assert archived.status_code == 200 and archived.json()["archived_at"] is not None
        assert repo.id not in [r["id"] for r in api.get(listing).json()]
        assert repo.id in [r["id"] for r in api.get(listing, params={"include_archived": "true"}).json()]
        assert api.get(repo.manage).status_code == 200
    refused = repo.upload("demo-2.0-py3-none-any.whl", d.wheel(version="2.0"))
    assert refused.status_code == 409 and "is archived and does not accept uploads" in refused.text
    with repo.raw("viewer") as http:
        page = http.get(repo.simple + "demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        assert page.status_code == 200
        assert http.get(page.json()["files"][0]["url"]).status_code == 200
    with repo.client() as api:
        api.patch(repo.manage, json={"archived": False, "is_active": False}).raise_for_status()
    inactive = repo.upload("demo-2.0-py3-none-any.whl", d.wheel(version="2.0"))
    assert inactive.status_code == 409 and "is inactive" in inactive.text
    with repo.client() as api:
        restored = api.patch(repo.manage, json={"is_active": True, "name": "Renamed", "description": "Back"})
        assert restored.json()["name"] == "Renamed" and restored.json()["archived_at"] is None
    assert repo.upload("demo-2.0-py3-none-any.whl", d.wheel(version="2.0")).status_code == 200


def test_lifecycle_changes_need_admin(repo: Repo) -> None:
    with repo.client("editor") as editor:
        assert editor.patch(repo.manage, json={"description": "fine"}).status_code == 200
        assert editor.patch(repo.manage, json={"archived": True}).status_code == 403
        assert editor.post(f"{repo.manage}/archive").status_code == 403
        deleted = editor.delete(repo.manage)
        assert deleted.status_code == 403 and deleted.json()["detail"] == "You lack delete access to this repository."
        assert editor.patch(repo.manage, json={"is_active": "no"}).status_code == 422


def test_delete_repository_removes_rows_and_unshared_blobs(repo: Repo) -> None:
    content = d.wheel(salt="delete-me")
    assert repo.upload("demo-1.0-py3-none-any.whl", content).status_code == 200
    with repo.client() as api:
        file = api.get(f"{repo.manage}/packages/demo").json()["files"][0]
        before = repo.server.table_counts()
        assert api.delete(repo.manage).status_code == 204
        assert api.get(repo.manage).status_code == 404
    after = repo.server.table_counts()
    assert after["files"] == before["files"] - 1 and after["packages"] == before["packages"] - 1
    assert after["filename_registry"] == before["filename_registry"] - 1
    assert not any(file["sha256"] in blob for blob in repo.server.blobs())
    with repo.raw() as http:
        assert http.get(repo.simple).status_code == 404
        assert http.get(file["download_url"]).status_code == 404


def test_api_keys_list_and_revoke_on_the_next_request(repo: Repo) -> None:
    with repo.client("member") as member:
        username = member.get("/me").json()["username"]
        created = member.post(f"/users/{username}/api-keys", json={"name": "ci"}).json()
    with repo.server.http(auth=("__token__", created["key"])) as http:
        assert http.get(repo.simple).status_code == 200
        assert http.get(repo.simple).status_code == 200  # now answered from the hot-path memo
        with repo.client("member") as member:
            keys = member.get(f"/users/{username}/api-keys").json()
            listed = next(k for k in keys if k["id"] == created["id"])
            assert listed["name"] == "ci" and listed["prefix"] == created["key"][:12] and "key" not in listed
            assert listed["last_used_at"] is not None
            assert member.delete(f"/users/{username}/api-keys/{created['id']}").status_code == 204
            assert member.delete(f"/users/{username}/api-keys/00000000-0000-0000-0000-000000000000").status_code == 404
        assert http.get(repo.simple).status_code == 401
    with repo.client("outsider") as outsider:
        assert outsider.get(f"/users/{username}/api-keys").status_code == 404


def test_teams_and_members(server: LiveServer, repo: Repo) -> None:
    slug = server.unique("team")
    with repo.client("member") as member:
        username = member.get("/me").json()["username"]
        assert member.post("/teams", json={"name": slug}).status_code == 403
    with server.admin() as admin:
        team = admin.post("/teams", json={"name": slug}).json()
        assert admin.post("/teams", json={"name": slug}).status_code == 409
        assert admin.put(f"/teams/{slug}/members/{username}").json()["members"] == [username]
        assert admin.put(f"/teams/{slug}/members/nobody-at-all").status_code == 404
    with repo.client("member") as member:
        assert [t["slug"] for t in member.get("/teams").json()] == [slug]
        assert [t["id"] for t in member.get("/me").json()["teams"]] == [team["id"]]
    with server.admin() as admin:
        assert admin.delete(f"/teams/{slug}/members/{username}").status_code == 204
    with repo.client("member") as member:
        assert member.get("/me").json()["teams"] == []


def test_space_member_removal(repo: Repo) -> None:
    with repo.client("viewer") as viewer:
        username = viewer.get("/me").json()["username"]
        assert viewer.delete(f"/spaces/{repo.space}/members/{username}").status_code == 403
    with repo.client() as admin:
        assert admin.delete(f"/spaces/{repo.space}/members/{username}").status_code == 204
        assert username not in [m["username"] for m in admin.get(f"/spaces/{repo.space}/members").json()]
    with repo.raw("viewer") as http:
        assert http.get(repo.simple).status_code == 404
