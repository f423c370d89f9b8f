"""Core metadata bytes (PEP 658), stored once per distinct content beside the rows.

METADATA / PKG-INFO files are small and read whole when served as ``<file>.metadata``, so they
live in the database rather than in the blob store.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.errors import NotFound


async def store(db: Database, raw: bytes) -> str:
    """Keep ``raw`` (inside the caller's transaction); returns its SHA-256."""
    digest = hashlib.sha256(raw).hexdigest()
    await db.insert_if_absent(t.core_metadata, {"sha256": digest, "content": raw})
    return digest


async def load(db: Database, digest: str) -> bytes:
    content = await db.fetch_val(sa.select(t.core_metadata.c.content).where(t.core_metadata.c.sha256 == digest))
    if content is None:
        raise NotFound("File not found.")
    return bytes(content)


async def forget_unreferenced(db: Database, digest: str | None) -> None:
    """Drop the row once no hosted or proxied file points at it (inside the caller's transaction)."""
    if digest is None:
        return
    hosted = sa.select(t.files.c.id).where(t.files.c.metadata_sha256 == digest)
    proxied = sa.select(t.proxy_files.c.id).where(t.proxy_files.c.metadata_sha256 == digest)
    if await db.fetch_one(sa.union_all(hosted, proxied).limit(1)) is None:
        await db.execute(t.core_metadata.delete().where(t.core_metadata.c.sha256 == digest))
