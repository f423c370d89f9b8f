"""One distribution file: lookup, yank and delete."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import NotFound
from qarion_pypi.repositories import core_metadata, records
from qarion_pypi.repositories.placement import release_unreferenced
from qarion_pypi.repositories.records import FileRecord, RepositoryRecord

MAX_YANK_REASON = 1000


async def get_file(ctx: Context, file_id: str, *, space_id: str | None = None) -> tuple[FileRecord, RepositoryRecord]:
    """A file and its repository; NotFound also for a file of another space than ``space_id``."""
    row = None
    if is_uuid(file_id):
        row = await ctx.db.fetch_one(records.file_query().where(t.files.c.id == file_id))
    if row is not None:
        file = FileRecord.from_row(row)
        repository = await records.load(ctx.db, file.repository_id)
        if space_id is None or repository.space_id == space_id:
            return file, repository
    raise NotFound("File not found.")


async def set_yanked(
    ctx: Context, principal: Principal, file: FileRecord, yanked: bool, reason: str | None
) -> FileRecord:
    """PEP 592: a yanked file stays installable by exact pin; unyanking clears the reason."""
    updated = dataclasses.replace(
        file, yanked=yanked, yanked_reason=(reason or None) if yanked else None, yanked_at=utcnow() if yanked else None
    )
    values = {"yanked": updated.yanked, "yanked_reason": updated.yanked_reason, "yanked_at": updated.yanked_at}
    async with ctx.db.transaction():
        await ctx.db.execute(t.files.update().where(t.files.c.id == file.id).values(**values))
        await records.touch(ctx.db, file.repository_id, principal.user_id)
    return updated


async def delete_file(ctx: Context, principal: Principal | None, file: FileRecord) -> None:
    """Remove the row (and an emptied package) in one transaction, then unreferenced blobs."""
    async with ctx.db.transaction():
        await ctx.db.execute(t.file_scans.delete().where(t.file_scans.c.file_id == file.id))
        await ctx.db.execute(t.files.delete().where(t.files.c.id == file.id))
        remaining = await ctx.db.fetch_one(
            sa.select(t.files.c.id).where(t.files.c.package_id == file.package_id).limit(1)
        )
        if remaining is None:
            await ctx.db.execute(t.packages.delete().where(t.packages.c.id == file.package_id))
        await core_metadata.forget_unreferenced(ctx.db, file.metadata_sha256)
        await records.touch(ctx.db, file.repository_id, principal.user_id if principal else None)
    await release_unreferenced(ctx, [file.sha256])
