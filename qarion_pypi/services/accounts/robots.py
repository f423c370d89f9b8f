"""Robot accounts: a space's CI identities. A robot is a principal named ``sa$<name>`` with a role
in its space (and scope grants there), keys of its own, and no platform rights; it belongs to
its space and is never a member anywhere else."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.auth.permissions import ROLE_PERMISSIONS
from qarion_pypi.auth.principal import ROBOT
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, FieldError, NotFound, ValidationFailed
from qarion_pypi.services.accounts import keys
from qarion_pypi.services.accounts.naming import USERNAME_RE

PREFIX = "sa$"


def username_of(name: str) -> str:
    return PREFIX + name


async def create_robot(ctx: Context, space: Row, name: str, role: str) -> tuple[Row, Row, str]:
    """The robot, its role in the space and its first key: (robot, key row, key text)."""
    problems = []
    if not USERNAME_RE.fullmatch(name) or len(name) > 61:
        problems.append(FieldError("name", "must be 1-61 letters, digits, '.', '_' or '-'"))
    if role not in ROLE_PERMISSIONS:
        problems.append(FieldError("role", f"must be one of: {', '.join(ROLE_PERMISSIONS)}"))
    if problems:
        raise ValidationFailed("Invalid robot.", problems)
    now = utcnow()
    robot = {"id": new_id(), "username": username_of(name), "is_admin": False, "created_at": now,
             "is_active": True, "kind": ROBOT, "space_id": space["id"]}  # fmt: skip
    async with ctx.db.transaction():
        taken = await ctx.db.fetch_one(sa.select(t.users.c.space_id).where(t.users.c.username == robot["username"]))
        if taken is not None:
            where = "in this space" if taken["space_id"] == space["id"] else "in another space"
            raise Conflict(f"A robot named {name!r} already exists {where}; robot names are unique.")
        await ctx.db.execute(t.users.insert().values(**robot))
        await ctx.db.execute(
            t.space_members.insert().values(space_id=space["id"], user_id=robot["id"], role=role, created_at=now)
        )
        key_row, key = await keys.create_key(ctx, robot, "initial")
    return {**robot, "role": role}, key_row, key


def _query(space: Row) -> sa.Select[tuple[object, ...]]:
    return (
        sa.select(t.users, t.space_members.c.role)
        .outerjoin(
            t.space_members,
            sa.and_(t.space_members.c.user_id == t.users.c.id, t.space_members.c.space_id == space["id"]),
        )
        .where(t.users.c.kind == ROBOT, t.users.c.space_id == space["id"])
    )


async def list_robots(ctx: Context, space: Row) -> list[Row]:
    return await ctx.db.fetch_all(_query(space).order_by(t.users.c.username))


async def get_robot(ctx: Context, space: Row, name: str) -> Row:
    row = await ctx.db.fetch_one(_query(space).where(t.users.c.username == username_of(name)))
    if row is None:
        raise NotFound(f"Robot {name!r} not found.")
    return row


async def update_robot(ctx: Context, space: Row, robot: Row, *, role: str | None, active: bool | None) -> Row:
    if role is not None and role not in ROLE_PERMISSIONS:
        raise ValidationFailed("Invalid role.", [FieldError("role", f"must be one of: {', '.join(ROLE_PERMISSIONS)}")])
    async with ctx.db.transaction():
        if role is not None:
            await ctx.db.execute(
                t.space_members.delete().where(
                    t.space_members.c.space_id == space["id"], t.space_members.c.user_id == robot["id"]
                )
            )
            await ctx.db.execute(
                t.space_members.insert().values(
                    space_id=space["id"], user_id=robot["id"], role=role, created_at=utcnow()
                )
            )
        if active is not None:
            await ctx.db.execute(t.users.update().where(t.users.c.id == robot["id"]).values(is_active=active))
    return {**robot, "role": role or robot["role"], "is_active": robot["is_active"] if active is None else active}


async def delete_robot(ctx: Context, robot: Row) -> None:
    """The robot, its keys, role and grants; what it uploaded stays (its uploader becomes unknown)."""
    async with ctx.db.transaction():
        await ctx.db.execute(
            t.project_scope_grants.delete().where(
                t.project_scope_grants.c.principal_type == "user", t.project_scope_grants.c.principal_id == robot["id"]
            )
        )
        await ctx.db.execute(t.users.delete().where(t.users.c.id == robot["id"]))  # keys and roles cascade


def refuse_outside(user: Row, space_id: str | None) -> None:
    """A robot joins no space but its own, and no team (``space_id`` None)."""
    if user["kind"] == ROBOT and user["space_id"] != space_id:
        place = "a team" if space_id is None else "another space"
        raise Conflict(f"{user['username']!r} is a robot of one space; it cannot be added to {place}.")
