"""Robot accounts, keys with limits, deactivation, the Basic username rule and public
repositories, through the management API and the client endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import distbuilder as d
from tests.support.harness import Repo, make_repo
from tests.support.inprocess import InProcessServer

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _robots(repo: Repo) -> str:
    return f"/spaces/{repo.space}/robots"


def _upload(repo: Repo, auth: tuple[str, str], name: str) -> httpx.Response:
    with repo.server.http(auth=auth) as http:
        form = {":action": "file_upload", "protocol_version": "1"}
        return http.post(repo.legacy, data=form, files={"content": (f"{name}-1.0-py3-none-any.whl", d.wheel(name))})


def _page(repo: Repo, auth: tuple[str, str] | None, project: str = "") -> httpx.Response:
    with repo.server.http(auth=auth) as http:
        return http.get(repo.simple + (f"{project}/" if project else ""), headers=JSON)


def test_a_robot_publishes_with_its_own_name_and_role(repo: Repo) -> None:
    name = repo.server.unique("ci")
    with repo.client() as api:
        created = api.post(_robots(repo), json={"name": name, "role": "member"})
        assert created.status_code == 201, created.text
        robot = created.json()
        assert robot["username"] == f"sa${name}" and robot["role"] == "member" and robot["key"].startswith("qpypi_")
        assert api.post(_robots(repo), json={"name": name, "role": "viewer"}).status_code == 409
        refused = api.post(_robots(repo), json={"name": "no spaces", "role": "viewer"})
        assert refused.status_code == 422
        assert [r["username"] for r in api.get(_robots(repo)).json()] == [robot["username"]]
    key = robot["key"]
    assert _upload(repo, (f"sa${name}", key), "robotmade").status_code == 200
    assert _upload(repo, ("__token__", key), "robotmade2").status_code == 200
    wrong = _upload(repo, ("someone-else", key), "robotmade3")
    assert wrong.status_code == 401 and f"sa${name}" in wrong.text
    with repo.client() as api:
        files = api.get(f"{repo.manage}/packages/robotmade").json()["files"]
        assert files[0]["uploaded_by"] == f"sa${name}"
        # a viewer role: installs, no uploads
        assert api.patch(f"{_robots(repo)}/{name}", json={"role": "viewer"}).json()["role"] == "viewer"
    assert _upload(repo, ("__token__", key), "robotmade4").status_code == 403
    assert _page(repo, ("__token__", key), "robotmade").status_code == 200
    with repo.client("editor") as editor:  # robots are space admins' business
        assert editor.get(_robots(repo)).status_code == 403


def test_robot_keys_deactivation_and_removal(repo: Repo) -> None:
    name = repo.server.unique("bot")
    with repo.client() as api:
        first = api.post(_robots(repo), json={"name": name, "role": "member"}).json()
        second = api.post(f"{_robots(repo)}/{name}/keys", json={"name": "second"}).json()
        assert {k["name"] for k in api.get(f"{_robots(repo)}/{name}/keys").json()} == {"initial", "second"}
        assert api.delete(f"{_robots(repo)}/{name}/keys/{first['key_id']}").status_code == 204
    assert _page(repo, ("__token__", first["key"])).status_code == 401
    assert _page(repo, ("__token__", second["key"])).status_code == 200
    with repo.client() as api:
        assert api.patch(f"{_robots(repo)}/{name}", json={"is_active": False}).json()["is_active"] is False
    deactivated = _page(repo, ("__token__", second["key"]))
    assert deactivated.status_code == 401 and "deactivated" in deactivated.text
    with repo.client() as api:
        api.patch(f"{_robots(repo)}/{name}", json={"is_active": True})
        assert _page(repo, ("__token__", second["key"])).status_code == 200
        assert api.delete(f"{_robots(repo)}/{name}").status_code == 204
        assert api.get(f"{_robots(repo)}/{name}").status_code == 404
    assert _page(repo, ("__token__", second["key"])).status_code == 401


def test_a_robot_stays_in_its_space(server: InProcessServer) -> None:
    home, away = make_repo(server), make_repo(server)
    name = server.unique("homebot")
    with home.client() as api:
        api.post(_robots(home), json={"name": name, "role": "admin"}).raise_for_status()
    with server.admin() as admin:
        joined = admin.put(f"/spaces/{away.space}/members/sa${name}", json={"role": "viewer"})
        assert joined.status_code == 409 and "robot of one space" in joined.json()["detail"]
        admin.post("/teams", json={"name": "T", "slug": server.unique("team")}).raise_for_status()
        team = admin.get("/teams").json()[-1]["slug"]
        assert admin.put(f"/teams/{team}/members/sa${name}").status_code == 409
        assert admin.get(f"/spaces/{home.space}/robots/{name}").status_code == 200
        keys = admin.post(f"/spaces/{away.space}/robots/{name}/keys", json={"name": "x"})
        assert keys.status_code == 404  # not a robot of that space


def test_keys_with_scopes_repositories_and_an_expiry(repo: Repo) -> None:
    other = make_repo(repo.server)
    username = repo.server.unique("scoped")
    with repo.server.admin() as admin:
        admin.post("/users", json={"username": username}).raise_for_status()
        admin.put(f"/spaces/{repo.space}/members/{username}", json={"role": "editor"}).raise_for_status()
        admin.put(f"/spaces/{other.space}/members/{username}", json={"role": "editor"}).raise_for_status()

        def key(**limits: Any) -> str:
            created = admin.post(f"/users/{username}/api-keys", json={"name": "k", **limits})
            assert created.status_code == 201, created.text
            shown = created.json()
            assert shown["scopes"] == limits.get("scopes") and shown["repository_ids"] == limits.get("repository_ids")
            if "expires_at" in limits:
                assert datetime.fromisoformat(shown["expires_at"]) == datetime.fromisoformat(limits["expires_at"])
            return str(created.json()["key"])

        read_only = key(scopes=["read"])
        one_repo = key(repository_ids=[repo.id])
        soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        expiring = key(expires_at=soon)
        limits = {"scopes": ["admin"], "repository_ids": ["nope"], "expires_at": "2001-01-01T00:00:00Z"}
        bad = admin.post(f"/users/{username}/api-keys", json={"name": "bad", **limits})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"scopes", "repository_ids", "expires_at"}
        naive = admin.post(f"/users/{username}/api-keys", json={"name": "n", "expires_at": "2099-01-01T00:00:00"})
        assert naive.status_code == 422 and "time zone" in naive.text

    assert _page(repo, (username, read_only)).status_code == 200
    assert _upload(repo, (username, read_only), "readonly").status_code == 403  # an editor, but a read key
    assert _upload(repo, (username, one_repo), "onerepo").status_code == 200
    assert _page(other, (username, one_repo)).status_code == 404  # the other repository is out of its reach
    with repo.server.client(one_repo) as api:
        assert api.get(f"/spaces/{repo.space}/package-repositories/{repo.id}").status_code == 200
        assert api.get(f"/spaces/{repo.space}").status_code == 404  # nothing space-wide
    assert _page(repo, (username, expiring)).status_code == 200
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    repo.server.state.execute("UPDATE api_keys SET expires_at = ? WHERE expires_at IS NOT NULL", past)
    expired = _page(repo, (username, expiring))
    assert expired.status_code == 401 and "expired" in expired.text
    with repo.server.client(expiring) as api:
        assert api.get("/me").status_code == 401


def test_deactivated_users_fail_at_once(repo: Repo) -> None:
    username = repo.server.unique("leaver")
    with repo.server.admin() as admin:
        admin.post("/users", json={"username": username}).raise_for_status()
        admin.put(f"/spaces/{repo.space}/members/{username}", json={"role": "viewer"}).raise_for_status()
        key = admin.post(f"/users/{username}/api-keys", json={"name": "k"}).json()["key"]
        assert _page(repo, ("__token__", key)).status_code == 200
        assert admin.patch(f"/users/{username}", json={"is_active": False}).json()["is_active"] is False
        assert _page(repo, ("__token__", key)).status_code == 401
        assert admin.patch("/users/admin", json={"is_active": False}).status_code == 409  # not oneself
        assert admin.patch(f"/users/{username}", json={"is_active": True}).status_code == 200
    assert _page(repo, ("__token__", key)).status_code == 200
    with repo.client("viewer") as viewer:
        assert viewer.patch(f"/users/{username}", json={"is_active": False}).status_code == 403


def test_public_repositories_answer_reads_without_credentials(repo: Repo) -> None:
    assert repo.upload("opendemo-1.0-py3-none-any.whl", d.wheel("opendemo")).status_code == 200
    with repo.server.http() as anonymous:
        assert anonymous.get(repo.simple).status_code == 401  # private: 401, as for a missing one
        assert anonymous.get(repo.simple.replace("/repo/", "/nothing-here/")).status_code == 401
    with repo.client() as api:
        changed = api.patch(repo.manage, json={"visibility": "public"})
        assert changed.status_code == 200 and changed.json()["visibility"] == "public"
    page = _page(repo, None, "opendemo")
    assert page.status_code == 200
    with repo.server.http() as anonymous:
        file = page.json()["files"][0]
        assert anonymous.get(file["url"]).status_code == 200
        assert anonymous.get(file["url"] + ".metadata").status_code == 200
        assert anonymous.get(repo.simple, headers=JSON).json()["projects"] == [{"name": "opendemo"}]
    refused = _upload(repo, ("__token__", "qpypi_" + "x" * 43), "anon")
    assert refused.status_code == 401  # wrong credentials are still wrong
    with repo.server.http() as anonymous:
        form = {":action": "file_upload", "protocol_version": "1"}
        upload = anonymous.post(repo.legacy, data=form, files={"content": ("a-1.0-py3-none-any.whl", d.wheel("a"))})
        assert upload.status_code == 401
        assert anonymous.get(f"/api/v1.0{repo.manage}").status_code == 401  # management needs credentials
    assert _page(repo, ("__token__", repo.keys["outsider"]), "opendemo").status_code == 200
