"""What every table module shares: the one MetaData, and the id, reference and time columns."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from qarion_pypi.db.types import UTCDateTime

metadata = sa.MetaData()


def id_column() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), primary_key=True)


def reference(name: str, target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column[str]:
    return sa.Column(name, sa.String(36), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)
