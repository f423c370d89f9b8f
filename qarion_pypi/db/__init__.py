"""Metadata store: SQLAlchemy Core tables run through ``databases`` (SQLite or PostgreSQL)."""

from qarion_pypi.db.database import Database, Row, grouped

__all__ = ["Database", "Row", "grouped"]
