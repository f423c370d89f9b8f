"""Core metadata bytes (PEP 658), stored once per distinct content beside the rows.

METADATA / PKG-INFO files are small and read whole when served as ``<file>.metadata``, so they
live in the database rather than in the blob store.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.distributions.metadata import CoreMetadata, parse_core_metadata
from qarion_pypi.errors import BadRequest, NotFound


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


def resolver_fields(metadata: CoreMetadata) -> dict[str, list[str]]:
    """What resolvers read besides Requires-Python, as JSON pages carry it (PEP 691 extras)."""
    return {
        "requires_dist": list(metadata.requires_dist),
        "requires_external": list(metadata.requires_external),
        "provides_extra": list(metadata.provides_extra),
    }


async def backfill(db: Database) -> None:
    """Schema 3: whether each stored file's metadata may stand in for it (PEP 643), and its
    Requires-External and Provides-Extra, from the metadata already stored."""
    rows = await db.fetch_all(
        sa.select(t.files.c.id, t.files.c.distribution_type, t.core_metadata.c.content).join(
            t.core_metadata, t.core_metadata.c.sha256 == t.files.c.metadata_sha256
        )
    )
    for row in rows:
        try:
            metadata = parse_core_metadata(bytes(row["content"]))
        except BadRequest:  # accepted under older rules; do not let resolvers rely on it
            values: dict[str, object] = {"metadata_trusted": row["distribution_type"] == "wheel"}
        else:
            fields = resolver_fields(metadata)
            values = {
                "metadata_trusted": metadata.trusted_for(row["distribution_type"]),
                "requires_external": fields["requires_external"],
                "provides_extra": fields["provides_extra"],
            }
        await db.execute(t.files.update().where(t.files.c.id == row["id"]).values(**values))
