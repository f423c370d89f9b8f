"""One distribution file: lookup, yank and delete."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import NotFound
from qarion_pypi.services import core_metadata, repositories
from qarion_pypi.services.blobs import release_unreferenced
from qarion_pypi.services.naming import is_uuid
from qarion_pypi.services.packages import file_query

MAX_YANK_REASON = 1000


async def get_file(ctx: Context, file_id: str, *, space_id: str | None = None) -> Row:
    """A file with its repository's space id; NotFound also for ids of other spaces."""
    row = None
    if is_uuid(file_id):
        query = file_query().add_columns(
            t.repositories.c.space_id, t.repositories.c.project_scope_id, t.repositories.c.slug.label("repository_slug")
        )
        query = query.join(t.repositories, t.repositories.c.id == t.files.c.repository_id)
        query = query.where(t.files.c.id == file_id)
        if space_id is not None:
            query = query.where(t.repositories.c.space_id == space_id)
        row = await ctx.db.fetch_one(query)
    if row is None:
        raise NotFound("File not found.")
    return row


async def set_yanked(ctx: Context, principal: Principal, file: Row, yanked: bool, reason: str | None) -> Row:
    """PEP 592: a yanked file stays installable by exact pin; unyanking clears the reason."""
    values = {
        "yanked": yanked,
        "yanked_reason": (reason or None) if yanked else None,
        "yanked_at": utcnow() if yanked else None,
    }
    async with ctx.db.transaction():
        await ctx.db.execute(t.files.update().where(t.files.c.id == file["id"]).values(**values))
        await repositories.touch(ctx, file["repository_id"], principal)
    return {**file, **values}


async def delete_file(ctx: Context, principal: Principal | None, file: Row) -> None:
    """Remove the row (and an emptied package) in one transaction, then unreferenced blobs."""
    async with ctx.db.transaction():
        await ctx.db.execute(t.file_scans.delete().where(t.file_scans.c.file_id == file["id"]))
        await ctx.db.execute(t.files.delete().where(t.files.c.id == file["id"]))
        remaining = await ctx.db.fetch_one(
            sa.select(t.files.c.id).where(t.files.c.package_id == file["package_id"]).limit(1)
        )
        if remaining is None:
            await ctx.db.execute(t.packages.delete().where(t.packages.c.id == file["package_id"]))
        await core_metadata.forget_unreferenced(ctx, file["metadata_sha256"])
        await repositories.touch(ctx, file["repository_id"], principal)
    await release_unreferenced(ctx, [file["sha256"]])
