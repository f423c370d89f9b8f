"""The one database facade services use: Core statements in, plain mappings out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import databases
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.ddl import CreateIndex, CreateTable

from qarion_pypi.db import tables
from qarion_pypi.db.changes import ChangeToken, NoChangeToken, SQLiteDataVersion

Row = Mapping[str, Any]
# A data change that comes with a schema version, run once when an older database is upgraded.
Upgrade = Callable[["Database"], Awaitable[None]]


def grouped(rows: list[Row], keys: list[str], key: str, value: str) -> dict[str, list[Any]]:
    """``rows`` as lists of ``value`` per ``key``, every one of ``keys`` present, order kept."""
    result: dict[str, list[Any]] = {k: [] for k in keys}
    for row in rows:
        result[row[key]].append(row[value])
    return result


SCHEMA_VERSION = "3"
# Columns later versions added to tables that already existed: (version, table, column).
# New tables need nothing here: create_schema creates whatever is missing.
ADDED_COLUMNS = [
    ("2", "files", "scan_status"),
    ("2", "files", "scan_max_severity"),
    ("2", "files", "scan_finding_count"),
    ("3", "audit_events", "resource_name"),
    ("3", "files", "metadata_trusted"),
    ("3", "files", "requires_external"),
    ("3", "files", "provides_extra"),
    ("3", "proxy_files", "metadata_trusted"),
    ("3", "proxy_files", "dependencies"),
]


class _Databases(databases.Database):
    SUPPORTED_BACKENDS = {  # noqa: RUF012 (the base class declares it as a plain attribute)
        **databases.Database.SUPPORTED_BACKENDS,
        "sqlite": "qarion_pypi.db.sqlite:PooledSQLiteBackend",
    }


class Database:
    def __init__(self, url: str, *, lock_timeout: float = 10.0) -> None:
        """``lock_timeout``: seconds a writer waits for SQLite's write lock before its request is
        answered 503 (reads never wait: WAL)."""
        self.url = url
        self._db = _Databases(url, lock_timeout=lock_timeout) if self.is_sqlite else _Databases(url)
        self._changes: ChangeToken = NoChangeToken()

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    async def connect(self) -> None:
        await self._db.connect()
        if self.is_sqlite:
            self._changes = SQLiteDataVersion(self._db.url.database)

    async def disconnect(self) -> None:
        self._changes.close()
        self._changes = NoChangeToken()
        await self._db.disconnect()

    def change_token(self) -> int | None:
        """Moves whenever anything commits; None when the backend cannot tell (no caching)."""
        return self._changes.current()

    async def create_schema(self, upgrades: Mapping[int, Upgrade] | None = None) -> int | None:
        """Create missing tables and indexes, and bring an older schema up to date, running the
        data ``upgrades`` of each newer version in the same transaction; returns the version the
        database had before (None when it was new)."""
        async with self.transaction():
            existing = await self._table_exists("schema_info")
            version = await self._db.fetch_val(
                sa.select(tables.schema_info.c.value).where(tables.schema_info.c.key == "version")
            ) if existing else SCHEMA_VERSION  # fmt: skip
            if int(version) > int(SCHEMA_VERSION):
                raise RuntimeError(f"The database has schema {version}; this release knows up to {SCHEMA_VERSION}.")
            for added_in, table_name, column in ADDED_COLUMNS:
                if int(version) < int(added_in) and not await self._column_exists(table_name, column):
                    ddl = CreateColumn(tables.metadata.tables[table_name].c[column]).compile(dialect=self._dialect())
                    await self._db.execute(sa.text(f"ALTER TABLE {table_name} ADD COLUMN {ddl}"))
            for table in tables.metadata.sorted_tables:
                await self._db.execute(CreateTable(table, if_not_exists=True))
                for index in table.indexes:
                    await self._db.execute(CreateIndex(index, if_not_exists=True))
            for upgraded_in, upgrade in sorted((upgrades or {}).items()):
                if existing and int(version) < upgraded_in:
                    await upgrade(self)
            if not existing:
                await self._db.execute(tables.schema_info.insert().values(key="version", value=SCHEMA_VERSION))
            elif version != SCHEMA_VERSION:
                await self._db.execute(
                    tables.schema_info.update()
                    .where(tables.schema_info.c.key == "version")
                    .values(value=SCHEMA_VERSION)
                )
        return int(version) if existing else None

    def _dialect(self) -> sa.engine.Dialect:
        return sqlite.dialect() if self.is_sqlite else postgresql.dialect()  # type: ignore[no-untyped-call]

    async def _column_exists(self, table: str, column: str) -> bool:
        if self.is_sqlite:
            rows = await self._db.fetch_all(sa.text(f"PRAGMA table_info({table})"))
            return any(row._mapping["name"] == column for row in rows)
        query = sa.text("SELECT 1 FROM information_schema.columns WHERE table_name=:t AND column_name=:c")
        return await self._db.fetch_one(query.bindparams(t=table, c=column)) is not None

    async def _table_exists(self, name: str) -> bool:
        if self.is_sqlite:
            query = sa.text("SELECT 1 FROM sqlite_master WHERE type='table' AND name=:n")
        else:
            query = sa.text("SELECT 1 FROM information_schema.tables WHERE table_name=:n")
        return await self._db.fetch_one(query.bindparams(n=name)) is not None

    async def fetch_one(self, query: ClauseElement) -> Row | None:
        record = await self._db.fetch_one(query)
        return None if record is None else dict(record._mapping)

    async def fetch_all(self, query: ClauseElement) -> list[Row]:
        return [dict(record._mapping) for record in await self._db.fetch_all(query)]

    async def fetch_val(self, query: ClauseElement) -> Any:
        return await self._db.fetch_val(query)

    async def execute(self, query: ClauseElement) -> Any:
        return await self._db.execute(query)

    async def insert_if_absent(self, table: sa.Table, values: dict[str, Any]) -> None:
        """INSERT that does nothing when the primary key exists (SQLite and PostgreSQL spell it alike)."""
        dialect_insert = sqlite_insert if self.is_sqlite else postgresql_insert
        await self._db.execute(dialect_insert(table).values(**values).on_conflict_do_nothing())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A write transaction: everything inside commits together or not at all."""
        async with self._db.transaction():
            yield

    async def integrity_problems(self) -> list[str]:
        """What the database itself finds wrong with its files and references (SQLite's own
        checks; PostgreSQL guards both itself)."""
        if not self.is_sqlite:
            return []
        problems = []
        for row in await self._db.fetch_all(sa.text("PRAGMA integrity_check")):
            text = str(row[0])
            if text != "ok":
                problems.append(f"database: {text}")
        for row in await self._db.fetch_all(sa.text("PRAGMA foreign_key_check")):
            problems.append(f"database: row {row[1]} of {row[0]} points at a missing {row[2]}")
        return problems

    async def ping(self) -> None:
        await self._db.fetch_val(sa.text("SELECT 1"))
