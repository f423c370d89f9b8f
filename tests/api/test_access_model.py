"""The access model, as a table. It is the specification: read it, and change it with care.

Columns are repositories: one in a project scope per ``space_member_access_level`` and one
space-wide. Rows are callers: each space role, a non-member, non-members holding a direct grant
(``user-*``) or a grant through a team (``team-*``) on every scope, and a space viewer who also
holds a direct edit grant (``viewer+edit``: the highest level that applies wins). The member
default applies to space members only; space and platform admins hold admin everywhere. A cell
is the permission the caller must end up with; every cell is checked through four actions:

    view     GET the repository's simple index        200, or 404 below view
    publish  twine-style legacy upload                200, 403 with view, 404 below
    edit     yank a file (management API)             200, 403 with view/publish, 404 below
    admin    change the repository's lifecycle flag   200, 403 below admin, 404 below view
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support import distbuilder as d
from tests.support.harness import API, TestServer

TABLE = """
caller         role_based  none   view   publish  edit     space-wide
viewer         view        -      view   publish  edit     view
member         publish     -      view   publish  edit     publish
editor         edit        -      view   publish  edit     edit
admin          admin       admin  admin  admin    admin    admin
outsider       -           -      -      -        -        -
viewer+edit    edit        edit   edit   edit     edit     view
user-view      view        view   view   view     view     -
user-publish   publish     publish publish publish publish -
user-edit      edit        edit   edit   edit     edit     -
user-admin     admin       admin  admin  admin    admin    -
team-view      view        view   view   view     view     -
team-edit      edit        edit   edit   edit     edit     -
team-admin     admin       admin  admin  admin    admin    -
platform       admin       admin  admin  admin    admin    admin
"""

LEVELS = ["-", "view", "publish", "edit", "admin"]
_header, *_rows = (line.split() for line in TABLE.strip().splitlines())
COLUMNS = _header[1:]
CELLS = {(row[0], column): level for row in _rows for column, level in zip(COLUMNS, row[1:], strict=True)}


@dataclass
class Org:
    server: TestServer
    space: str
    keys: dict[str, str]
    repos: dict[str, dict]  # column -> repository document
    files: dict[str, str]  # column -> id of a seeded file


def _user(admin: httpx.Client, server: TestServer, name: str) -> tuple[str, str]:
    username = server.unique(name)
    user = admin.post("/users", json={"username": username}).json()
    return user["id"], admin.post(f"/users/{username}/api-keys", json={"name": "t"}).json()["key"]


@pytest.fixture(scope="module")
def org(server: TestServer) -> Iterator[Org]:
    space = server.unique("access")
    keys: dict[str, str] = {"platform": server.admin_key}
    with server.admin() as admin:
        admin.post("/spaces", json={"name": space, "slug": space}).raise_for_status()
        for role in ("viewer", "member", "editor", "admin"):
            _, keys[role] = _user(admin, server, role)
            username = admin.get("/me", headers={"Authorization": f"Bearer {keys[role]}"}).json()["username"]
            admin.put(f"/spaces/{space}/members/{username}", json={"role": role}).raise_for_status()
        _, keys["outsider"] = _user(admin, server, "outsider")
        grants = []
        for level in ("view", "publish", "edit", "admin"):
            user_id, keys[f"user-{level}"] = _user(admin, server, f"user-{level}")
            grants.append({"principal_type": "user", "principal_id": user_id, "access_level": level})
        viewer_id, keys["viewer+edit"] = _user(admin, server, "viewer-edit")
        viewer_name = admin.get("/me", headers={"Authorization": f"Bearer {keys['viewer+edit']}"}).json()["username"]
        admin.put(f"/spaces/{space}/members/{viewer_name}", json={"role": "viewer"}).raise_for_status()
        grants.append({"principal_type": "user", "principal_id": viewer_id, "access_level": "edit"})
        for level in ("view", "edit", "admin"):
            _, keys[f"team-{level}"] = _user(admin, server, f"team-{level}")
            team = admin.post("/teams", json={"name": server.unique(f"team-{level}")}).json()
            username = admin.get("/me", headers={"Authorization": f"Bearer {keys[f'team-{level}']}"}).json()["username"]
            admin.put(f"/teams/{team['slug']}/members/{username}").raise_for_status()
            grants.append({"principal_type": "team", "principal_id": team["id"], "access_level": level})
        base = f"/spaces/{space}/package-repositories"
        repos, files = {}, {}
        for column in COLUMNS:
            selector = {}
            if column != "space-wide":
                scope = admin.post(
                    f"{base}/project-scopes", json={"name": f"Scope {column}", "slug": "s-" + column.replace("_", "-")}
                ).json()
                access = {"space_member_access_level": column, "grants": grants}
                admin.put(f"{base}/project-scopes/{scope['id']}/access", json=access).raise_for_status()
                selector = {"project_scope_id": scope["id"]}
            repos[column] = admin.post(base, json={"name": f"Repo {column}", "slug": "repo", **selector}).json()
            seeded = admin.post(
                f"{base}/{repos[column]['id']}/files", files={"file": ("seed-1.0-py3-none-any.whl", d.wheel("seed"))}
            )
            files[column] = seeded.json()["file"]["id"]
    yield Org(server, space, keys, repos, files)


def _expected(level: str, needed: str, *, client: bool = False) -> int:
    if LEVELS.index(level) < LEVELS.index("view"):
        return 404
    return 200 if LEVELS.index(level) >= LEVELS.index(needed) else 403


@pytest.mark.parametrize(("caller", "column"), sorted(CELLS), ids=[f"{c}@{col}" for c, col in sorted(CELLS)])
def test_access(org: Org, caller: str, column: str) -> None:
    level = CELLS[(caller, column)]
    repo = org.repos[column]
    key = org.keys[caller]
    server = org.server
    simple = repo["simple_index_url"].removeprefix(server.url)
    legacy = repo["upload_url"].removeprefix(server.url)
    filename = f"{caller}_{column}".replace("-", "_").replace("+", "_") + "-1.0-py3-none-any.whl"
    name = filename.split("-")[0]

    with server.http(auth=("__token__", key)) as client:
        assert client.get(simple).status_code == _expected(level, "view")
        upload = client.post(legacy, data={":action": "file_upload", "protocol_version": "1"},
                             files={"content": (filename, d.wheel(name))})  # fmt: skip
        assert upload.status_code == _expected(level, "publish"), upload.text
    with server.client(key) as api:
        base = f"/spaces/{org.space}/package-repositories"
        yank = api.patch(f"{base}/files/{org.files[column]}/yank", json={"yanked": False})
        assert yank.status_code == _expected(level, "edit"), yank.text
        lifecycle = api.patch(f"{base}/{repo['id']}", json={"is_active": True})
        assert lifecycle.status_code == _expected(level, "admin"), lifecycle.text
        if lifecycle.status_code == 200:
            granted = lifecycle.json()["effective_permissions"]
            assert granted == LEVELS[1 : LEVELS.index(level) + 1]
        if yank.status_code == 403:
            assert yank.json()["detail"] == "You lack yank access to this file."


def test_the_table_covers_every_default_and_grant_kind() -> None:
    assert set(COLUMNS) == {"role_based", "none", "view", "publish", "edit", "space-wide"}
    callers = {caller for caller, _ in CELLS}
    assert {"viewer", "member", "editor", "admin", "outsider", "platform"} <= callers
    assert any(c.startswith("user-") for c in callers) and any(c.startswith("team-") for c in callers)
    assert API == "/api/v1.0"
