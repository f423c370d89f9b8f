"""Repositories: creation, lookup, lifecycle and the inventory counts their responses carry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, NotFound
from qarion_pypi.services import kinds
from qarion_pypi.services.blobs import release_unreferenced
from qarion_pypi.services.naming import ensure_slug_free, is_uuid, new_id, resolve_slug


def repository_query() -> sa.Select[Any]:
    """Repositories with their space's slug and their scope's slug and name (NULL if space-wide)."""
    return (
        sa.select(
            t.repositories,
            t.spaces.c.slug.label("space_slug"),
            t.project_scopes.c.slug.label("project_scope_slug"),
            t.project_scopes.c.name.label("project_scope_name"),
        )
        .join(t.spaces, t.spaces.c.id == t.repositories.c.space_id)
        .outerjoin(t.project_scopes, t.project_scopes.c.id == t.repositories.c.project_scope_id)
    )


async def create_repository(
    ctx: Context, principal: Principal, space: Row, fields: Mapping[str, Any], scope: Row | None
) -> Row:
    slug = resolve_slug(fields["name"], fields.get("slug"), "repository")
    kind = fields.get("kind", "hosted")
    kind_columns = kinds.columns(kind, fields, creating=True)
    now = utcnow()
    scope_id = scope["id"] if scope else None
    row = {
        "id": new_id(),
        "space_id": space["id"],
        "project_scope_id": scope_id,
        "scope_key": scope_id or "",
        "kind": kind,
        "name": fields["name"],
        "slug": slug,
        "description": fields.get("description") or "",
        "is_active": True,
        "archived_at": None,
        "created_at": now,
        "updated_at": now,
        "created_by_id": principal.user_id,
        "updated_by_id": principal.user_id,
        "serial": 0,
        "merge": False,
        **kind_columns,
    }
    async with ctx.db.transaction():
        if kind == "virtual":
            await kinds.check_members(ctx, space["id"], None, fields["members"], row.get("upload_target_id"))
        where = "this project scope" if scope else "this space"
        await ensure_slug_free(
            ctx.db,
            t.repositories,
            slug,
            f"A repository with slug {slug!r} already exists in {where}.",
            t.repositories.c.space_id == space["id"],
            t.repositories.c.scope_key == row["scope_key"],
        )
        await ctx.db.execute(t.repositories.insert().values(**row))
        if kind == "virtual":
            await kinds.replace_members(ctx, row["id"], fields["members"])
    return await get_repository(ctx, space, row["id"])


async def list_repositories(ctx: Context, space: Row, *, include_archived: bool = False) -> list[Row]:
    query = repository_query().where(t.repositories.c.space_id == space["id"])
    if not include_archived:
        query = query.where(t.repositories.c.archived_at.is_(None))
    return await ctx.db.fetch_all(query.order_by(t.repositories.c.scope_key, t.repositories.c.slug))


async def get_repository(ctx: Context, space: Row, repository_id: str) -> Row:
    row = None
    if is_uuid(repository_id):
        row = await ctx.db.fetch_one(
            repository_query().where(t.repositories.c.id == repository_id, t.repositories.c.space_id == space["id"])
        )
    if row is None:
        raise NotFound("Repository not found.")
    return row


async def resolve_client_repository(
    ctx: Context, space_slug: str, repository_slug: str, project_slug: str | None = None
) -> Row:
    """A repository by its client URL's slugs (project-scoped when ``project_slug`` is given)."""
    query = repository_query().where(t.spaces.c.slug == space_slug, t.repositories.c.slug == repository_slug)
    if project_slug is None:
        query = query.where(t.repositories.c.scope_key == "")
    else:
        query = query.where(t.project_scopes.c.slug == project_slug)
    row = await ctx.db.fetch_one(query)
    if row is None:
        raise NotFound("Repository not found.")
    return row


async def update_repository(ctx: Context, principal: Principal, repository: Row, changes: Mapping[str, Any]) -> Row:
    """Name, description, is_active, archived (True stamps archived_at, False clears it) and the
    settings of the repository's kind."""
    values: dict[str, Any] = {k: v for k, v in changes.items() if k in {"name", "description", "is_active"}}
    values.update(kinds.columns(repository["kind"], changes, creating=False))
    if repository["kind"] == "virtual" and ("members" in changes or "upload_target_id" in changes):
        current = (await kinds.member_ids(ctx, [repository["id"]]))[repository["id"]]
        members = changes.get("members", current)
        target = changes.get("upload_target_id", repository["upload_target_id"])
        await kinds.check_members(ctx, repository["space_id"], repository["id"], members, target)
        await kinds.replace_members(ctx, repository["id"], members)
    if "archived" in changes:
        archived = changes["archived"]
        values["archived_at"] = (repository["archived_at"] or utcnow()) if archived else None
    values.update(updated_at=utcnow(), updated_by_id=principal.user_id, serial=t.repositories.c.serial + 1)
    await ctx.db.execute(t.repositories.update().where(t.repositories.c.id == repository["id"]).values(**values))
    return await _reload(ctx, repository)


async def delete_repository(ctx: Context, repository: Row) -> None:
    """Every row goes in one transaction; then, best effort, the blobs nothing else references."""
    digests = [
        row["sha256"]
        for row in await ctx.db.fetch_all(
            sa.select(t.files.c.sha256).where(t.files.c.repository_id == repository["id"])
        )
    ]
    async with ctx.db.transaction():
        metadata_rows = sa.select(t.files.c.metadata_sha256).where(t.files.c.repository_id == repository["id"])
        orphaned_metadata = await ctx.db.fetch_all(metadata_rows)
        for table in (t.file_scans, t.scan_policies, t.files, t.packages, t.filename_registry):
            await ctx.db.execute(table.delete().where(table.c.repository_id == repository["id"]))
        await ctx.db.execute(t.repositories.delete().where(t.repositories.c.id == repository["id"]))
        for row in orphaned_metadata:
            if row["metadata_sha256"]:
                used = await ctx.db.fetch_one(
                    sa.select(t.files.c.id).where(t.files.c.metadata_sha256 == row["metadata_sha256"]).limit(1)
                )
                if used is None:
                    await ctx.db.execute(
                        t.core_metadata.delete().where(t.core_metadata.c.sha256 == row["metadata_sha256"])
                    )
    await release_unreferenced(ctx, digests)


async def get_by_id(ctx: Context, repository_id: str) -> Row:
    return await _reload(ctx, {"id": repository_id})


async def members(ctx: Context, repository: Row) -> list[Row]:
    """A virtual repository's members, highest priority first."""
    order = (await kinds.member_ids(ctx, [repository["id"]]))[repository["id"]]
    rows = await ctx.db.fetch_all(repository_query().where(t.repositories.c.id.in_(order))) if order else []
    by_id = {row["id"]: row for row in rows}
    return [by_id[member_id] for member_id in order if member_id in by_id]


async def upload_target(ctx: Context, repository: Row) -> Row:
    """The hosted repository an upload to ``repository`` lands in (itself, when hosted)."""
    refusal = kinds.refusal_for_upload(repository)
    if refusal:
        raise Conflict(refusal)
    if repository["kind"] == "hosted":
        return repository
    return await get_by_id(ctx, repository["upload_target_id"])


async def _reload(ctx: Context, repository: Row) -> Row:
    row = await ctx.db.fetch_one(repository_query().where(t.repositories.c.id == repository["id"]))
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
    """Why the repository refuses uploads, or None when it accepts them.

    Archived and inactive repositories are read-only: they still serve installs (pinned builds
    keep working) but take no new files.
    """
    if repository["archived_at"] is not None:
        return f"Repository {repository['slug']!r} is archived and does not accept uploads."
    if not repository["is_active"]:
        return f"Repository {repository['slug']!r} is inactive and does not accept uploads."
    return None
