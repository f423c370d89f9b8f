"""Checking what the database promises against what the blob store holds.

Every file row must have its blob, of its size, with its sha256 (re-hashed: a disk that flipped
a bit is found too); cached proxy files must have theirs; nothing should be stored that no row
references; no staging file should outlive the upload it belonged to. ``repair`` removes the
orphans and stale staging files (never anything a row references).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.services.catalog import blobs
from qarion_pypi.storage.base import STALE_STAGING_SECONDS

Progress = Callable[[int, int], None]


@dataclass
class Report:
    checked_files: int = 0
    problems: list[str] = field(default_factory=list)  # rows whose bytes are missing or wrong
    orphans: list[str] = field(default_factory=list)  # blobs no row references (after a repair: left)
    removed_orphans: int = 0
    removed_staging: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems and not self.orphans


async def check(ctx: Context, *, sample: int | None = None, repair: bool = False,
                progress: Progress | None = None) -> Report:  # fmt: skip
    report = Report(problems=await ctx.db.integrity_problems())
    rows = await ctx.db.fetch_all(
        sa.select(t.files.c.id, t.files.c.filename, t.files.c.sha256, t.files.c.size).order_by(t.files.c.id)
    )
    if sample is not None and sample < len(rows):
        rows = random.sample(rows, sample)
    for index, row in enumerate(rows):
        problem = await blob_problem(ctx, row["sha256"], row["size"])
        if problem:
            report.problems.append(f"{row['filename']} (file {row['id']}): {problem}")
        if progress is not None:
            progress(index + 1, len(rows))
    report.checked_files = len(rows)
    cached = await ctx.db.fetch_all(
        sa.select(t.proxy_files.c.filename, t.proxy_files.c.blob_sha256).where(t.proxy_files.c.blob_sha256.is_not(None))
    )
    for row in cached:
        if not await ctx.blobs.exists(row["blob_sha256"]):
            report.problems.append(f"{row['filename']} (proxied): its cached blob is missing")
    if repair:
        report.removed_orphans = await blobs.collect_orphans(ctx, blobs.ORPHAN_GRACE_SECONDS)
        report.removed_staging = await ctx.blobs.sweep_staging(STALE_STAGING_SECONDS)
    report.orphans = await blobs.orphans(ctx)
    return report


async def blob_problem(ctx: Context, sha256: str, size: int) -> str | None:
    """What is wrong with the stored bytes of ``sha256`` (expected ``size``), or None."""
    blob = await ctx.blobs.open(sha256)
    if blob is None:
        return "its blob is missing"
    if blob.size != size:
        return f"its blob has {blob.size} bytes instead of {size}"
    digest = hashlib.sha256()
    async for chunk in blob.read(0, blob.size):
        digest.update(chunk)
    if digest.hexdigest() != sha256:
        return "its blob's bytes do not match its sha256"
    return None
