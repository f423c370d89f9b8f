"""Removing blobs that no file row references any more: after a deletion, and the ones a crash
left behind (placed in the store, but their row never committed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t

log = logging.getLogger(__name__)
# An upload places its blob a moment before its row commits; anything younger than this may be one.
ORPHAN_GRACE_SECONDS = 3600.0


async def release_unreferenced(ctx: Context, digests: Iterable[str | None]) -> int:
    """Best effort: delete each blob unless a hosted file or a proxy's cached file points at it;
    returns how many went.

    The check and the delete share a transaction holding the blob's lock, which every writer of
    a reference to it takes too, so none can slip in between them.
    """
    removed = 0
    for digest in {d for d in digests if d}:
        try:
            async with ctx.db.transaction():
                await ctx.db.lock("blob", digest)
                hosted = sa.select(t.files.c.id).where(t.files.c.sha256 == digest)
                proxied = sa.select(t.proxy_files.c.id).where(t.proxy_files.c.blob_sha256 == digest)
                used = await ctx.db.fetch_one(sa.union_all(hosted, proxied).limit(1))
                if used is None:
                    await ctx.blobs.delete(digest)
                    removed += 1
        except Exception:  # the rows are already right; a stray blob is only wasted space
            log.exception("could not release blob %s", digest)
    return removed


async def referenced(ctx: Context) -> set[str]:
    """Every blob a row points at."""
    rows = await ctx.db.fetch_all(
        sa.union(
            sa.select(t.files.c.sha256.label("digest")),
            sa.select(t.proxy_files.c.blob_sha256.label("digest")).where(t.proxy_files.c.blob_sha256.is_not(None)),
        )
    )
    return {row["digest"] for row in rows}


async def orphans(ctx: Context, older_than: float = 0.0) -> list[str]:
    """Blobs no row references, stored more than ``older_than`` seconds ago."""
    known = await referenced(ctx)
    cutoff = time.time() - older_than
    return [e.sha256 async for e in ctx.blobs.entries() if e.sha256 not in known and e.modified < cutoff]


async def collect_orphans(ctx: Context, older_than: float = ORPHAN_GRACE_SECONDS) -> int:
    """Remove what ``orphans`` finds, each one checked again under the write lock."""
    found = await orphans(ctx, older_than)
    removed = await release_unreferenced(ctx, found) if found else 0
    if removed:
        log.warning("removed %d blobs no file referenced (left by an interrupted upload)", removed)
    return removed
