"""Teams: platform-wide groups of users that project scopes can grant access to."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row, grouped
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.services.accounts import robots, users
from qarion_pypi.services.accounts.naming import ensure_slug_free, get_by_slug, resolve_slug


async def create_team(ctx: Context, principal: Principal, name: str, slug: str | None) -> Row:
    slug = resolve_slug(name, slug, "team")
    row = {"id": new_id(), "slug": slug, "name": name, "created_at": utcnow(), "created_by_id": principal.user_id}
    async with ctx.db.transaction():
        await ensure_slug_free(ctx.db, t.teams, slug, f"A team with slug {slug!r} already exists.")
        await ctx.db.execute(t.teams.insert().values(**row))
    return row


async def get_team(ctx: Context, slug: str) -> Row:
    return await get_by_slug(ctx.db, t.teams, slug, "Team")


async def list_teams(ctx: Context, principal: Principal) -> list[Row]:
    """Platform admins see every team; others the teams they belong to."""
    query = sa.select(t.teams).order_by(t.teams.c.slug)
    if not principal.is_admin:
        query = query.where(t.teams.c.id.in_(_teams_of(principal.user_id or "")))
    return await ctx.db.fetch_all(query)


async def teams_of(ctx: Context, user_id: str | None) -> list[Row]:
    """The teams a user belongs to (none for callers who are not users)."""
    if user_id is None:
        return []
    return await ctx.db.fetch_all(
        sa.select(t.teams).where(t.teams.c.id.in_(_teams_of(user_id))).order_by(t.teams.c.slug)
    )


def _teams_of(user_id: str) -> sa.Select[tuple[str]]:
    return sa.select(t.team_members.c.team_id).where(t.team_members.c.user_id == user_id)


async def members(ctx: Context, team_ids: list[str]) -> dict[str, list[str]]:
    """Usernames per team, for the given teams."""
    if not team_ids:
        return {}
    rows = await ctx.db.fetch_all(
        sa.select(t.team_members.c.team_id, t.users.c.username)
        .join(t.users, t.users.c.id == t.team_members.c.user_id)
        .where(t.team_members.c.team_id.in_(team_ids))
        .order_by(t.users.c.username)
    )
    return grouped(rows, team_ids, "team_id", "username")


async def add_member(ctx: Context, team: Row, username: str) -> None:
    user = await users.require_user(ctx, username)
    robots.refuse_outside(user, None)
    await ctx.db.insert_if_absent(
        t.team_members, {"team_id": team["id"], "user_id": user["id"], "created_at": utcnow()}
    )


async def remove_member(ctx: Context, team: Row, username: str) -> None:
    user = await users.require_user(ctx, username)
    await ctx.db.execute(
        t.team_members.delete().where(t.team_members.c.team_id == team["id"], t.team_members.c.user_id == user["id"])
    )
