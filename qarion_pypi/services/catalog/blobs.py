"""Removing the blobs a crash left behind: placed in the store, but their row never committed
(or their upload's claim, ``repositories/placement.py``, never settled)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.repositories.placement import release_unreferenced

log = logging.getLogger(__name__)
# An upload places its blob a moment before its row commits; anything younger than this may be one.
ORPHAN_GRACE_SECONDS = 3600.0


async def referenced(ctx: Context) -> set[str]:
    """Every blob a row points at, or an upload in progress has claimed."""
    rows = await ctx.db.fetch_all(
        sa.union(
            sa.select(t.files.c.sha256.label("digest")),
            sa.select(t.proxy_files.c.blob_sha256.label("digest")).where(t.proxy_files.c.blob_sha256.is_not(None)),
            sa.select(t.blob_claims.c.sha256.label("digest")),
        )
    )
    return {row["digest"] for row in rows}


async def orphans(ctx: Context, older_than: float = 0.0) -> list[str]:
    """Blobs no row references, stored more than ``older_than`` seconds ago."""
    known = await referenced(ctx)
    cutoff = time.time() - older_than
    return [e.sha256 async for e in ctx.blobs.entries() if e.sha256 not in known and e.modified < cutoff]


async def collect_orphans(ctx: Context, older_than: float = ORPHAN_GRACE_SECONDS) -> int:
    """Remove what ``orphans`` finds, each one checked again under the write lock; first the
    claims of uploads that died while placing their blob (as old as the grace period)."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    await ctx.db.execute(t.blob_claims.delete().where(t.blob_claims.c.created_at < cutoff))
    found = await orphans(ctx, older_than)
    removed = await release_unreferenced(ctx, found) if found else 0
    if removed:
        log.warning("removed %d blobs no file referenced (left by an interrupted upload)", removed)
    return removed
