"""Core metadata bytes (PEP 658), stored once per distinct content."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.errors import NotFound


async def store(ctx: Context, raw: bytes) -> str:
    """Keep ``raw`` (inside the caller's transaction); returns its SHA-256."""
    digest = hashlib.sha256(raw).hexdigest()
    await ctx.db.insert_if_absent(t.core_metadata, {"sha256": digest, "content": raw})
    return digest


async def load(ctx: Context, digest: str) -> bytes:
    content = await ctx.db.fetch_val(sa.select(t.core_metadata.c.content).where(t.core_metadata.c.sha256 == digest))
    if content is None:
        raise NotFound("File not found.")
    return bytes(content)


async def forget_unreferenced(ctx: Context, digest: str | None) -> None:
    """Drop the row once no file points at it (inside the caller's transaction)."""
    if digest is None:
        return
    used = await ctx.db.fetch_one(sa.select(t.files.c.id).where(t.files.c.metadata_sha256 == digest).limit(1))
    if used is None:
        await ctx.db.execute(t.core_metadata.delete().where(t.core_metadata.c.sha256 == digest))
