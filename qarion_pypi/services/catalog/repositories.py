"""Repositories: creation, listing, lifecycle and the inventory counts their responses carry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.permissions import Permission, effective_permission, require, visible_rows
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.repositories import core_metadata, records, settings
from qarion_pypi.repositories.placement import release_unreferenced
from qarion_pypi.repositories.records import RepositoryKind, RepositoryRecord
from qarion_pypi.services.accounts import scopes
from qarion_pypi.services.accounts.naming import ensure_slug_free, resolve_slug

LIFECYCLE_FIELDS = ("is_active", "archived", *settings.ALL_FIELDS)


async def create_repository(
    ctx: Context, principal: Principal, space: Row, fields: Mapping[str, Any]
) -> tuple[RepositoryRecord, Permission]:
    """A new repository, space-wide or in the scope ``fields`` selects; the caller needs admin there."""
    scope = await _selected_scope(ctx, space, fields)
    held = await effective_permission(ctx.db, principal, space["id"], scope["id"] if scope else None)
    require(held, Permission.ADMIN, "create", "project scope" if scope else "space")
    slug = resolve_slug(fields["name"], fields.get("slug"), "repository")
    kind = RepositoryKind(fields.get("kind", RepositoryKind.HOSTED))
    kind_columns = settings.seal_password(settings.columns(kind, fields, creating=True), ctx.sealer)
    now = utcnow()
    scope_id = scope["id"] if scope else None
    row = {
        "id": new_id(), "space_id": space["id"], "project_scope_id": scope_id, "scope_key": scope_id or "",
        "kind": kind.value, "name": fields["name"], "slug": slug, "description": fields.get("description") or "",
        "is_active": True, "archived_at": None, "created_at": now, "updated_at": now,
        "visibility": fields.get("visibility", "private"),
        "created_by_id": principal.user_id, "updated_by_id": principal.user_id, "serial": 0, "merge": False,
        **kind_columns,
    }  # fmt: skip
    async with ctx.db.transaction():
        if kind is RepositoryKind.VIRTUAL:
            await settings.check_members(ctx.db, space["id"], None, fields["members"], row.get("upload_target_id"))
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
        if kind is RepositoryKind.VIRTUAL:
            await settings.replace_members(ctx.db, row["id"], fields["members"])
    return await records.load(ctx.db, row["id"]), held


async def _selected_scope(ctx: Context, space: Row, fields: Mapping[str, Any]) -> Row | None:
    """The project scope named by id or slug (never both), or None for a space-wide repository."""
    scope_id, scope_slug = fields.get("project_scope_id"), fields.get("project_scope_slug")
    if scope_id and scope_slug:
        raise ValidationFailed(
            "Use either project_scope_id or project_scope_slug, not both.",
            [FieldError("project_scope_id", "give only one scope selector"),
             FieldError("project_scope_slug", "give only one scope selector")],
        )  # fmt: skip
    if not (scope_id or scope_slug):
        return None
    return await scopes.get_scope(ctx, space, scope_id=scope_id, slug=scope_slug)


async def list_visible(
    ctx: Context, principal: Principal, space: Row, *, include_archived: bool
) -> list[tuple[RepositoryRecord, Permission]]:
    """The space's repositories the caller may see, each with the caller's permission on it."""
    rows = await records.list_in_space(ctx.db, space["id"], include_archived=include_archived)
    return await visible_rows(ctx.db, principal, space["id"], rows, lambda record: record.project_scope_id)


def permission_for_update(changes: Mapping[str, Any]) -> tuple[Permission, str]:
    """Names and descriptions need edit; activity, archiving and kind settings need admin."""
    if any(name in changes for name in LIFECYCLE_FIELDS):
        return Permission.ADMIN, "admin"
    return Permission.EDIT, "edit"


async def update_repository(
    ctx: Context, principal: Principal, repository: RepositoryRecord, changes: Mapping[str, Any]
) -> RepositoryRecord:
    """Name, description, is_active, visibility, archived (True stamps archived_at, False clears
    it) and the settings of the repository's kind."""
    values: dict[str, Any] = {
        k: v for k, v in changes.items() if k in {"name", "description", "is_active", "visibility"}
    }
    kind_columns = settings.columns(repository.kind, changes, creating=False, cooldown_now=repository.cooldown)
    values.update(settings.seal_password(kind_columns, ctx.sealer))
    async with ctx.db.transaction():
        if repository.virtual is not None and ("members" in changes or "upload_target_id" in changes):
            current = (await records.member_ids(ctx.db, [repository.id]))[repository.id]
            members = changes.get("members", current)
            target = changes.get("upload_target_id", repository.virtual.upload_target_id)
            await settings.check_members(ctx.db, repository.space_id, repository.id, members, target)
            await settings.replace_members(ctx.db, repository.id, members)
        if "archived" in changes:
            values["archived_at"] = (repository.archived_at or utcnow()) if changes["archived"] else None
        values.update(updated_at=utcnow(), updated_by_id=principal.user_id, serial=t.repositories.c.serial + 1)
        await ctx.db.execute(t.repositories.update().where(t.repositories.c.id == repository.id).values(**values))
    return await records.load(ctx.db, repository.id)


async def delete_repository(ctx: Context, repository: RepositoryRecord) -> None:
    """Every row goes in one transaction (proxy caches, members, jobs and rules by cascade); then,
    best effort, the blobs nothing else references."""
    owned = t.files.c.repository_id == repository.id
    proxied = t.proxy_files.c.repository_id == repository.id
    blobs = sa.union_all(
        sa.select(t.files.c.sha256.label("digest")).where(owned),
        sa.select(t.proxy_files.c.blob_sha256.label("digest")).where(proxied),
    )
    digests = [row["digest"] for row in await ctx.db.fetch_all(blobs)]
    async with ctx.db.transaction():
        metadata = sa.union(
            sa.select(t.files.c.metadata_sha256.label("digest")).where(owned),
            sa.select(t.proxy_files.c.metadata_sha256.label("digest")).where(proxied),
        )
        metadata_digests = [row["digest"] for row in await ctx.db.fetch_all(metadata)]
        for table in (t.file_scans, t.scan_policies, t.files, t.packages, t.filename_registry, t.proxy_files):
            await ctx.db.execute(table.delete().where(table.c.repository_id == repository.id))
        await ctx.db.execute(t.repositories.delete().where(t.repositories.c.id == repository.id))
        for digest in metadata_digests:
            await core_metadata.forget_unreferenced(ctx.db, digest)
    await release_unreferenced(ctx, digests)


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
