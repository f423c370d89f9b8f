"""The one permission function, against a real database: roles, scope defaults, grants, visibility."""

from __future__ import annotations

import pytest

from qarion_pypi.auth.permissions import Permission, effective_permission, require, visible_rows
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.errors import Forbidden, NotFound
from qarion_pypi.services.accounts import scopes, spaces, teams, users

pytestmark = pytest.mark.anyio


async def _principal(ctx: Context, name: str, *, admin: bool = False) -> Principal:
    row = await users.create_user(ctx, name, is_admin=admin)
    return Principal(row["id"], name, admin, api_key_id="")


async def _scope(
    ctx: Context, owner: Principal, space: Row, slug: str, level: str, grants: list[dict[str, str]]
) -> Row:
    scope = await scopes.create_scope(ctx, owner, space, {"name": slug, "slug": slug})
    await scopes.replace_access(ctx, owner, scope, level, grants)
    return scope


async def test_roles_defaults_and_grants(ctx: Context) -> None:
    root = await _principal(ctx, "root", admin=True)
    space = await spaces.create_space(ctx, root, "Acme", "acme")
    people = {name: await _principal(ctx, name) for name in ("viewer", "member", "editor", "boss", "guest", "teamed")}
    for name, role in (("viewer", "viewer"), ("member", "member"), ("editor", "editor"), ("boss", "admin")):
        await spaces.set_member(ctx, space, name, role)
    team = await teams.create_team(ctx, root, "Builders", "builders")
    await teams.add_member(ctx, team, "teamed")
    grants = [
        {"principal_type": "user", "principal_id": people["guest"].user_id, "access_level": "view"},
        {"principal_type": "user", "principal_id": people["viewer"].user_id, "access_level": "publish"},
        {"principal_type": "team", "principal_id": team["id"], "access_level": "edit"},
    ]
    closed = await _scope(ctx, root, space, "closed", "none", grants)
    open_ = await _scope(ctx, root, space, "open", "role_based", [])
    readable = await _scope(ctx, root, space, "readable", "view", [])

    async def held(name: str, scope: Row | None = None) -> Permission:
        principal = root if name == "root" else people[name]
        return await effective_permission(ctx.db, principal, space["id"], scope["id"] if scope else None)

    # space roles map to permissions; platform and space admins hold admin everywhere
    assert [await held(n) for n in ("viewer", "member", "editor", "boss", "guest", "root")] == [
        Permission.VIEW, Permission.PUBLISH, Permission.EDIT, Permission.ADMIN, Permission.NONE, Permission.ADMIN,
    ]  # fmt: skip
    # role_based keeps the mapping; a level replaces it for plain members; none gives nothing
    assert await held("editor", open_) == Permission.EDIT
    assert await held("editor", readable) == Permission.VIEW
    assert await held("member", closed) == Permission.NONE
    assert await held("boss", closed) == Permission.ADMIN
    # grants add to the member default (highest wins), and work without membership, also via teams
    assert await held("viewer", closed) == Permission.PUBLISH
    assert await held("guest", closed) == Permission.VIEW
    assert await held("teamed", closed) == Permission.EDIT
    assert await held("guest", open_) == Permission.NONE
    assert await effective_permission(ctx.db, None, space["id"]) == Permission.NONE


async def test_listings_show_what_a_grant_reaches(ctx: Context) -> None:
    root = await _principal(ctx, "root", admin=True)
    space = await spaces.create_space(ctx, root, "Acme", "acme")
    guest = await _principal(ctx, "guest")
    stranger = await _principal(ctx, "stranger")
    assert guest.user_id is not None
    grant = [{"principal_type": "user", "principal_id": guest.user_id, "access_level": "publish"}]
    granted = await _scope(ctx, root, space, "granted", "none", grant)
    other = await _scope(ctx, root, space, "other", "none", [])
    rows = [
        {"scope": None, "name": "space-wide"},
        {"scope": granted["id"], "name": "a"},
        {"scope": other["id"], "name": "b"},
    ]

    seen = await visible_rows(ctx.db, guest, space["id"], rows, lambda row: row["scope"])
    assert [(row["name"], held) for row, held in seen] == [("a", Permission.PUBLISH)]
    with pytest.raises(NotFound, match="Space not found"):
        await visible_rows(ctx.db, stranger, space["id"], rows, lambda row: row["scope"])


def test_require_hides_what_cannot_be_seen_and_names_what_is_missing() -> None:
    with pytest.raises(NotFound, match="Repository not found"):
        require(Permission.NONE, Permission.VIEW, "view", "repository")
    with pytest.raises(Forbidden, match="You lack publish access to this repository"):
        require(Permission.VIEW, Permission.PUBLISH, "publish", "repository")
    require(Permission.ADMIN, Permission.EDIT, "edit", "repository")
    assert Permission.EDIT.granted() == ["view", "publish", "edit"]
