"""Repositories: creation, lookup and the inventory counts their responses carry."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, NotFound, ValidationFailed
from qarion_pypi.services.naming import is_uuid, new_id, slug_error, slugify


async def create_repository(
    ctx: Context, principal: Principal, space: Row, name: str, slug: str | None, description: str
) -> Row:
    slug = slug if slug is not None else slugify(name)
    error = slug_error("slug", slug)
    if error:
        raise ValidationFailed("Invalid repository.", [error])
    now = utcnow()
    row = {
        "id": new_id(),
        "space_id": space["id"],
        "project_scope_id": None,
        "scope_key": "",
        "kind": "hosted",
        "name": name,
        "slug": slug,
        "description": description,
        "is_active": True,
        "archived_at": None,
        "created_at": now,
        "updated_at": now,
        "created_by_id": principal.user_id,
        "updated_by_id": principal.user_id,
        "serial": 0,
    }
    async with ctx.db.transaction():
        taken = await ctx.db.fetch_one(
            sa.select(t.repositories.c.id).where(
                t.repositories.c.space_id == space["id"],
                t.repositories.c.scope_key == "",
                t.repositories.c.slug == slug,
            )
        )
        if taken:
            raise Conflict(f"A repository with slug {slug!r} already exists in this space.")
        await ctx.db.execute(t.repositories.insert().values(**row))
    return row


async def list_repositories(ctx: Context, space: Row, *, include_archived: bool = False) -> list[Row]:
    query = sa.select(t.repositories).where(t.repositories.c.space_id == space["id"])
    if not include_archived:
        query = query.where(t.repositories.c.archived_at.is_(None))
    return await ctx.db.fetch_all(query.order_by(t.repositories.c.slug))


async def get_repository(ctx: Context, space: Row, repository_id: str) -> Row:
    row = None
    if is_uuid(repository_id):
        row = await ctx.db.fetch_one(
            sa.select(t.repositories).where(
                t.repositories.c.id == repository_id, t.repositories.c.space_id == space["id"]
            )
        )
    if row is None:
        raise NotFound("Repository not found.")
    return row


async def resolve_client_repository(ctx: Context, space_slug: str, repository_slug: str) -> Row:
    """A space-wide repository by its URL slugs, with its space's id; one query."""
    row = await ctx.db.fetch_one(
        sa.select(t.repositories, t.spaces.c.slug.label("space_slug"))
        .join(t.spaces, t.spaces.c.id == t.repositories.c.space_id)
        .where(
            t.spaces.c.slug == space_slug,
            t.repositories.c.slug == repository_slug,
            t.repositories.c.scope_key == "",
        )
    )
    if row is None:
        raise NotFound("Repository not found.")
    return row


async def inventory(ctx: Context, repository_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(package_count, file_count) per repository, in two grouped queries."""
    if not repository_ids:
        return {}
    packages = await ctx.db.fetch_all(
        sa.select(t.packages.c.repository_id, sa.func.count().label("n"))
        .where(t.packages.c.repository_id.in_(repository_ids))
        .group_by(t.packages.c.repository_id)
    )
    files = await ctx.db.fetch_all(
        sa.select(t.files.c.repository_id, sa.func.count().label("n"))
        .where(t.files.c.repository_id.in_(repository_ids))
        .group_by(t.files.c.repository_id)
    )
    package_counts = {row["repository_id"]: row["n"] for row in packages}
    file_counts = {row["repository_id"]: row["n"] for row in files}
    return {rid: (package_counts.get(rid, 0), file_counts.get(rid, 0)) for rid in repository_ids}


async def touch(ctx: Context, repository_id: str, principal: Principal | None) -> None:
    """Record a change to the repository's contents: new serial, so caches and ETags move on."""
    values: dict[str, object] = {"serial": t.repositories.c.serial + 1, "updated_at": utcnow()}
    if principal is not None:
        values["updated_by_id"] = principal.user_id
    await ctx.db.execute(t.repositories.update().where(t.repositories.c.id == repository_id).values(**values))


def accepts_uploads(repository: Row) -> str | None:
    """Why the repository refuses uploads, or None when it accepts them."""
    if repository["archived_at"] is not None:
        return f"Repository {repository['slug']!r} is archived and does not accept uploads."
    if not repository["is_active"]:
        return f"Repository {repository['slug']!r} is inactive and does not accept uploads."
    return None
