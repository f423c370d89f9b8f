"""Spaces and their members."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.auth.permissions import ROLE_PERMISSIONS
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError, NotFound, ValidationFailed
from qarion_pypi.services.accounts import robots, users
from qarion_pypi.services.accounts.naming import ensure_slug_free, resolve_slug


async def create_space(ctx: Context, principal: Principal, name: str, slug: str | None) -> Row:
    slug = resolve_slug(name, slug, "space")
    async with ctx.db.transaction():
        await ensure_slug_free(ctx.db, t.spaces, slug, f"A space with slug {slug!r} already exists.")
        row: dict[str, object] = {
            "id": new_id(),
            "slug": slug,
            "name": name,
            "created_at": utcnow(),
            "created_by_id": principal.user_id,
        }
        await ctx.db.execute(t.spaces.insert().values(**row))
        if principal.user_id is not None:  # the creator (a platform admin) administers it
            await _put_member(ctx, str(row["id"]), principal.user_id, "admin")
    return row


async def get_space(ctx: Context, slug: str) -> Row:
    """NotFound says only "Space not found.": the same words a hidden space gets, so slugs cannot
    be probed."""
    row = await ctx.db.fetch_one(sa.select(t.spaces).where(t.spaces.c.slug == slug))
    if row is None:
        raise NotFound("Space not found.")
    return row


async def list_spaces(ctx: Context, principal: Principal) -> list[Row]:
    """Platform admins see every space; others the spaces they belong to."""
    query = sa.select(t.spaces).order_by(t.spaces.c.slug)
    if not principal.is_admin:
        member_of = sa.select(t.space_members.c.space_id).where(t.space_members.c.user_id == principal.user_id)
        query = query.where(t.spaces.c.id.in_(member_of))
    return await ctx.db.fetch_all(query)


async def set_member(ctx: Context, space: Row, username: str, role: str) -> Row:
    if role not in ROLE_PERMISSIONS:
        raise ValidationFailed("Invalid role.", [FieldError("role", f"must be one of: {', '.join(ROLE_PERMISSIONS)}")])
    user = await users.require_user(ctx, username)
    robots.refuse_outside(user, space["id"])
    async with ctx.db.transaction():
        await ctx.db.execute(
            t.space_members.delete().where(
                t.space_members.c.space_id == space["id"], t.space_members.c.user_id == user["id"]
            )
        )
        await _put_member(ctx, space["id"], user["id"], role)
    return {"username": username, "user_id": user["id"], "role": role}


async def remove_member(ctx: Context, space: Row, username: str) -> None:
    user = await users.require_user(ctx, username)
    await ctx.db.execute(
        t.space_members.delete().where(
            t.space_members.c.space_id == space["id"], t.space_members.c.user_id == user["id"]
        )
    )


async def list_members(ctx: Context, space: Row) -> list[Row]:
    return await ctx.db.fetch_all(
        sa.select(t.users.c.username, t.users.c.id.label("user_id"), t.space_members.c.role)
        .join(t.users, t.users.c.id == t.space_members.c.user_id)
        .where(t.space_members.c.space_id == space["id"])
        .order_by(t.users.c.username)
    )


async def _put_member(ctx: Context, space_id: str, user_id: str, role: str) -> None:
    await ctx.db.execute(
        t.space_members.insert().values(space_id=space_id, user_id=user_id, role=role, created_at=utcnow())
    )
