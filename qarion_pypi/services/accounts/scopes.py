"""Project scopes and their access settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.permissions import Permission, visible_rows
from qarion_pypi.auth.principal import ROBOT, Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid, new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError, NotFound, ValidationFailed
from qarion_pypi.services.accounts.naming import ensure_slug_free, resolve_slug

PRINCIPAL_TABLES = {"user": t.users, "team": t.teams}


async def create_scope(ctx: Context, principal: Principal, space: Row, fields: Mapping[str, Any]) -> Row:
    slug = resolve_slug(fields["name"], fields.get("slug"), "project scope")
    now = utcnow()
    row = {
        "id": new_id(),
        "space_id": space["id"],
        "name": fields["name"],
        "slug": slug,
        "description": fields.get("description") or "",
        "source_type": fields.get("source_type"),
        "source_id": fields.get("source_id"),
        "source_metadata": fields.get("source_metadata") or {},
        "space_member_access_level": fields.get("space_member_access_level", "role_based"),
        "created_at": now,
        "updated_at": now,
        "created_by_id": principal.user_id,
        "updated_by_id": principal.user_id,
    }
    async with ctx.db.transaction():
        await _check_slug_free(ctx, space["id"], slug)
        await ctx.db.execute(t.project_scopes.insert().values(**row))
    return row


async def list_visible(ctx: Context, principal: Principal, space: Row) -> list[tuple[Row, Permission]]:
    """The space's scopes the caller may see (a grant is enough), with the caller's permission."""
    rows = await ctx.db.fetch_all(
        sa.select(t.project_scopes).where(t.project_scopes.c.space_id == space["id"]).order_by(t.project_scopes.c.slug)
    )
    return await visible_rows(ctx.db, principal, space["id"], rows, lambda row: str(row["id"]))


def permission_for_update(changes: Mapping[str, Any]) -> Permission:
    """Changing what space members get needs admin; the rest needs edit."""
    return Permission.ADMIN if "space_member_access_level" in changes else Permission.EDIT


async def get_scope(ctx: Context, space: Row, *, scope_id: str | None = None, slug: str | None = None) -> Row:
    query = sa.select(t.project_scopes).where(t.project_scopes.c.space_id == space["id"])
    row = None
    if scope_id is not None and is_uuid(scope_id):
        row = await ctx.db.fetch_one(query.where(t.project_scopes.c.id == scope_id))
    elif slug is not None:
        row = await ctx.db.fetch_one(query.where(t.project_scopes.c.slug == slug))
    if row is None:
        raise NotFound("Project scope not found.")
    return row


async def update_scope(ctx: Context, principal: Principal, scope: Row, changes: Mapping[str, Any]) -> Row:
    values = dict(changes)
    if "slug" in values:
        resolve_slug("", values["slug"], "project scope")
    values.update(updated_at=utcnow(), updated_by_id=principal.user_id)
    async with ctx.db.transaction():
        if values.get("slug", scope["slug"]) != scope["slug"]:
            await _check_slug_free(ctx, scope["space_id"], values["slug"])
        await ctx.db.execute(t.project_scopes.update().where(t.project_scopes.c.id == scope["id"]).values(**values))
    return {**scope, **values}


async def grants(ctx: Context, scope: Row) -> list[Row]:
    """The scope's grants, each with the name of the user or team it targets."""
    rows = await ctx.db.fetch_all(
        sa.select(t.project_scope_grants)
        .where(t.project_scope_grants.c.project_scope_id == scope["id"])
        .order_by(t.project_scope_grants.c.principal_type, t.project_scope_grants.c.principal_id)
    )
    names = {}
    for kind, table in PRINCIPAL_TABLES.items():
        ids = [r["principal_id"] for r in rows if r["principal_type"] == kind]
        column = table.c.username if kind == "user" else table.c.slug
        if ids:
            found = await ctx.db.fetch_all(sa.select(table.c.id, column.label("name")).where(table.c.id.in_(ids)))
            names.update({(kind, r["id"]): r["name"] for r in found})
    return [{**r, "principal_name": names.get((r["principal_type"], r["principal_id"]))} for r in rows]


async def replace_access(
    ctx: Context, principal: Principal, scope: Row, level: str, new_grants: Sequence[Mapping[str, str]]
) -> None:
    """Set the member default and replace every grant, in one transaction."""
    await _check_principals_exist(ctx, scope["space_id"], new_grants)
    async with ctx.db.transaction():
        await ctx.db.execute(
            t.project_scopes.update()
            .where(t.project_scopes.c.id == scope["id"])
            .values(space_member_access_level=level, updated_at=utcnow(), updated_by_id=principal.user_id)
        )
        await ctx.db.execute(
            t.project_scope_grants.delete().where(t.project_scope_grants.c.project_scope_id == scope["id"])
        )
        for grant in new_grants:
            await ctx.db.execute(t.project_scope_grants.insert().values(project_scope_id=scope["id"], **grant))


async def _check_principals_exist(ctx: Context, space_id: str, new_grants: Sequence[Mapping[str, str]]) -> None:
    errors = []
    seen = set()
    for index, grant in enumerate(new_grants):
        key = (grant["principal_type"], grant["principal_id"])
        table = PRINCIPAL_TABLES[grant["principal_type"]]
        if key in seen:
            errors.append(FieldError(f"grants[{index}]", "duplicates an earlier grant to the same principal"))
        seen.add(key)
        found = (
            await ctx.db.fetch_one(sa.select(table).where(table.c.id == grant["principal_id"]))
            if is_uuid(grant["principal_id"])
            else None
        )
        if not found:
            errors.append(FieldError(f"grants[{index}].principal_id", f"no {grant['principal_type']} has this id"))
        elif grant["principal_type"] == "user" and found["kind"] == ROBOT and found["space_id"] != space_id:
            errors.append(FieldError(f"grants[{index}].principal_id", "is a robot of another space"))
    if errors:
        raise ValidationFailed("Invalid grants.", errors)


async def _check_slug_free(ctx: Context, space_id: str, slug: str) -> None:
    message = f"A project scope with slug {slug!r} already exists in this space."
    await ensure_slug_free(ctx.db, t.project_scopes, slug, message, t.project_scopes.c.space_id == space_id)
