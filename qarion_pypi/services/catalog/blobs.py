"""Removing blobs that no file row references any more."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t

log = logging.getLogger(__name__)


async def release_unreferenced(ctx: Context, digests: Iterable[str | None]) -> None:
    """Best effort: delete each blob unless a hosted file or a proxy's cached file points at it.

    The check and the unlink share a write transaction, so an upload that is about to reference
    the same content (and takes the write lock to do so) cannot slip in between them.
    """
    for digest in {d for d in digests if d}:
        try:
            async with ctx.db.transaction():
                hosted = sa.select(t.files.c.id).where(t.files.c.sha256 == digest)
                proxied = sa.select(t.proxy_files.c.id).where(t.proxy_files.c.blob_sha256 == digest)
                used = await ctx.db.fetch_one(sa.union_all(hosted, proxied).limit(1))
                if used is None:
                    await ctx.blobs.delete(digest)
        except Exception:  # the rows are already right; a stray blob is only wasted space
            log.exception("could not release blob %s", digest)
