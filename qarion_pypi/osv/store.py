"""OSV records in the database: replaced wholesale by an import, looked up by package name."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.osv.records import Record, parse_record


async def replace_all(db: Database, records: Iterable[Record]) -> int:
    """Swap the stored records for ``records`` in one transaction; returns how many were stored."""
    now = utcnow()
    count = 0
    async with db.transaction():
        await db.execute(t.osv_packages.delete())
        await db.execute(t.osv_records.delete())
        for record in records:
            await db.execute(
                t.osv_records.insert().values(
                    id=record.id, modified=record.modified, document=record.as_document(), imported_at=now
                )
            )
            for name in sorted(record.package_names):
                await db.execute(t.osv_packages.insert().values(record_id=record.id, normalized_name=name))
            count += 1
    return count


async def for_package(db: Database, normalized_name: str) -> list[Record]:
    rows = await db.fetch_all(
        sa.select(t.osv_records.c.document)
        .join(t.osv_packages, t.osv_packages.c.record_id == t.osv_records.c.id)
        .where(t.osv_packages.c.normalized_name == normalized_name)
        .order_by(t.osv_records.c.id)
    )
    return [record for row in rows if (record := parse_record(row["document"])) is not None]
