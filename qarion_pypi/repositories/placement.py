"""Placing blobs for new rows, and releasing the ones no row references any more.

A blob is placed (written, fsynced, renamed or uploaded) before the transaction that records its
row, so the database's write lock is held for the rows only. While it is placed, a claim row says
the blob is wanted, which every removal checks under the blob's lock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import anyio
import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.database import Database
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.storage import IncomingBlob

log = logging.getLogger(__name__)


_DROP_CLAIM = t.blob_claims.delete().where(t.blob_claims.c.id == sa.bindparam("claim"))


class Claim:
    """The claim on a blob being placed; ``settle`` drops it in the transaction that writes the
    row referencing the blob."""

    def __init__(self, sha256: str) -> None:
        self.id = new_id()
        self.sha256 = sha256
        self.settled = False

    async def settle(self, db: Database) -> None:
        await db.execute(_DROP_CLAIM, {"claim": self.id})
        self.settled = True


@asynccontextmanager
async def placed(ctx: Context, blob: IncomingBlob) -> AsyncIterator[Claim]:
    """Claim and place a finished staging blob; the body records its row in a transaction that
    calls ``claim.settle``. If the body fails, or returns without settling (the row was already
    there), the claim goes and so does the blob unless a row references it."""
    assert blob.digests is not None, "finish() the blob before placing it"
    claim = Claim(blob.digests.sha256)
    async with ctx.db.transaction():
        await ctx.db.lock("blob", claim.sha256)  # a removal in progress finishes first
        await ctx.db.insert(t.blob_claims, {"id": claim.id, "sha256": claim.sha256, "created_at": utcnow()})
    try:
        await ctx.blobs.commit(blob)
        yield claim
    except BaseException:
        await _abandon(ctx, claim)
        raise
    if not claim.settled:
        await _abandon(ctx, claim)


async def _abandon(ctx: Context, claim: Claim) -> None:
    with anyio.CancelScope(shield=True):  # also when the request was cancelled
        try:
            await claim.settle(ctx.db)
        except Exception:  # the orphan collector drops it later
            log.exception("could not drop the claim on blob %s", claim.sha256)
        await release_unreferenced(ctx, [claim.sha256])


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
                claimed = sa.select(t.blob_claims.c.id).where(t.blob_claims.c.sha256 == digest)
                used = await ctx.db.fetch_one(sa.union_all(hosted, proxied, claimed).limit(1))
                if used is None:
                    await ctx.blobs.delete(digest)
                    removed += 1
        except Exception:  # the rows are already right; a stray blob is only wasted space
            log.exception("could not release blob %s", digest)
    return removed
