"""The one database facade services use: Core statements in, plain mappings out.

Two engines stand behind it: SQLite (the zero-setup default, one writer at a time) and PostgreSQL
(several replicas at once). Everything that differs between them lives in their engines, in
``lock`` (what serializes writers that must not interleave) and in the change token.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.ddl import CreateIndex, CreateTable

from qarion_pypi.db import tables
from qarion_pypi.db.changes import SQLiteDataVersion
from qarion_pypi.db.statements import Params
from qarion_pypi.db.waits import PoolWaits

Row = Mapping[str, Any]
# A data change that comes with a schema version, run once when an older database is upgraded.
Upgrade = Callable[["Database"], Awaitable[None]]


def grouped(rows: list[Row], keys: list[str], key: str, value: str) -> dict[str, list[Any]]:
    """``rows`` as lists of ``value`` per ``key``, every one of ``keys`` present, order kept."""
    result: dict[str, list[Any]] = {k: [] for k in keys}
    for row in rows:
        result[row[key]].append(row[value])
    return result


SCHEMA_VERSION = "8"
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
    ("4", "jobs", "claimed_by"),
    ("4", "jobs", "lease_until"),
    ("5", "users", "is_active"),
    ("5", "users", "kind"),
    ("5", "users", "space_id"),
    ("5", "api_keys", "expires_at"),
    ("5", "api_keys", "scopes"),
    ("5", "api_keys", "repository_ids"),
    ("5", "repositories", "visibility"),
    ("5", "files", "publisher"),
    ("6", "files", "attested_by"),
    ("6", "repositories", "require_attestations"),
    ("6", "packages", "status"),
    ("6", "packages", "status_reason"),
    ("6", "files", "promoted_from"),
    ("6", "repositories", "cooldown"),
    ("8", "files", "canonical_version"),
]


class Engine(Protocol):
    @property
    def dialect(self) -> sa.engine.Dialect: ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    def transaction(self) -> Any: ...

    async def fetch_all(
        self, query: ClauseElement, params: Params | None = None, *, quick: bool = False
    ) -> list[dict[str, Any]]: ...

    async def execute(self, query: ClauseElement, params: Params | None = None) -> int: ...


class Database:
    def __init__(self, url: str, *, lock_timeout: float = 10.0) -> None:
        """``lock_timeout``: seconds a writer waits for a lock before its request is answered
        503 (reads never wait for writers on either engine)."""
        self.url = url
        self.pool_waits = PoolWaits()
        self._engine: Engine
        self._changes: SQLiteDataVersion | None = None
        self._inserts: dict[tuple[str, bool], ClauseElement] = {}
        if self.is_sqlite:
            from qarion_pypi.db.sqlite import SQLiteEngine

            self._engine = self._sqlite = SQLiteEngine(url, lock_timeout=lock_timeout, waits=self.pool_waits)
        else:
            from qarion_pypi.db.postgres import PostgresEngine

            self._engine = self._postgres = PostgresEngine(url, lock_timeout=lock_timeout, waits=self.pool_waits)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def dialect(self) -> sa.engine.Dialect:
        return self._engine.dialect

    async def connect(self) -> None:
        await self._engine.connect()
        if self.is_sqlite:
            self._changes = SQLiteDataVersion(self._sqlite.path)

    async def disconnect(self) -> None:
        if self._changes is not None:
            self._changes.close()
            self._changes = None
        await self._engine.disconnect()

    async def change_token(self) -> object:
        """Moves whenever anything is committed, by this process or another; what memoized
        reads are keyed by."""
        if self._changes is not None:
            return self._changes.current()
        return await self._postgres.snapshot()

    async def create_schema(self, upgrades: Mapping[int, Upgrade] | None = None) -> int | None:
        """Create missing tables and indexes, and bring an older schema up to date, running the
        data ``upgrades`` of each newer version in the same transaction; returns the version the
        database had before (None when it was new). Replicas starting together take turns."""
        async with self.transaction():
            await self.lock("schema")
            existing = await self._table_exists("schema_info")
            version = await self.fetch_val(
                sa.select(tables.schema_info.c.value).where(tables.schema_info.c.key == "version")
            ) if existing else SCHEMA_VERSION  # fmt: skip
            if int(version) > int(SCHEMA_VERSION):
                raise RuntimeError(f"The database has schema {version}; this release knows up to {SCHEMA_VERSION}.")
            for added_in, table_name, column in ADDED_COLUMNS:
                if int(version) < int(added_in) and not await self._column_exists(table_name, column):
                    ddl = CreateColumn(tables.metadata.tables[table_name].c[column]).compile(dialect=self.dialect)
                    await self.execute(sa.text(f"ALTER TABLE {table_name} ADD COLUMN {ddl}"))
            for table in tables.metadata.sorted_tables:
                await self.execute(CreateTable(table, if_not_exists=True))
                for index in table.indexes:
                    await self.execute(CreateIndex(index, if_not_exists=True))
            for upgraded_in, upgrade in sorted((upgrades or {}).items()):
                if existing and int(version) < upgraded_in:
                    await upgrade(self)
            if not existing:
                await self.execute(tables.schema_info.insert().values(key="version", value=SCHEMA_VERSION))
            elif version != SCHEMA_VERSION:
                await self.execute(
                    tables.schema_info.update()
                    .where(tables.schema_info.c.key == "version")
                    .values(value=SCHEMA_VERSION)
                )
        return int(version) if existing else None

    async def _column_exists(self, table: str, column: str) -> bool:
        if self.is_sqlite:
            rows = await self.fetch_all(sa.text(f"PRAGMA table_info({table})"))
            return any(row["name"] == column for row in rows)
        query = sa.text(
            "SELECT 1 AS found FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = :t AND column_name = :c"
        )
        return await self.fetch_one(query.bindparams(t=table, c=column)) is not None

    async def _table_exists(self, name: str) -> bool:
        if self.is_sqlite:
            query = sa.text("SELECT 1 AS found FROM sqlite_master WHERE type='table' AND name=:n")
        else:
            query = sa.text(
                "SELECT 1 AS found FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_name = :n"
            )
        return await self.fetch_one(query.bindparams(n=name)) is not None

    # ``params``: for a statement built once (a module constant) with ``sa.bindparam``
    # placeholders, or an INSERT without values: the values of this call. Such a statement is
    # compiled once for the process (db/statements.py); statements built per call carry their
    # values and are found again by their shape.
    # ``quick``: the read is a lookup of a few rows by an index. SQLite runs it on the event
    # loop's thread, where it takes microseconds, instead of a trip to the connection's thread
    # (150-200 us of thread switching); a read that may walk a table must not say so.
    async def fetch_one(self, query: ClauseElement, params: Params | None = None, *, quick: bool = False) -> Row | None:
        rows = await self._engine.fetch_all(query, params, quick=quick)
        return rows[0] if rows else None

    async def fetch_all(self, query: ClauseElement, params: Params | None = None, *, quick: bool = False) -> list[Row]:
        return await self._engine.fetch_all(query, params, quick=quick)  # type: ignore[return-value]

    async def fetch_val(self, query: ClauseElement, params: Params | None = None, *, quick: bool = False) -> Any:
        row = await self.fetch_one(query, params, quick=quick)
        return None if row is None else next(iter(row.values()))

    async def execute(self, query: ClauseElement, params: Params | None = None) -> int:
        """Run a statement; the number of rows it touched."""
        return await self._engine.execute(query, params)

    async def insert(self, table: sa.Table, values: dict[str, Any]) -> None:
        """INSERT one row, by a statement compiled once per table and set of columns."""
        await self.execute(self._insert_into(table, absent=False), values)

    async def insert_if_absent(self, table: sa.Table, values: dict[str, Any]) -> None:
        """INSERT that does nothing when the primary key exists (SQLite and PostgreSQL spell it alike)."""
        await self.execute(self._insert_into(table, absent=True), values)

    def _insert_into(self, table: sa.Table, *, absent: bool) -> ClauseElement:
        statement = self._inserts.get((table.name, absent))
        if statement is None:
            if absent:
                dialect_insert = sqlite_insert if self.is_sqlite else postgresql_insert
                statement = dialect_insert(table).on_conflict_do_nothing()
            else:
                statement = table.insert()
            self._inserts[(table.name, absent)] = statement
        return statement

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A write transaction: everything inside commits together or not at all."""
        async with self._engine.transaction():
            yield

    async def lock(self, *name: str) -> None:
        """Inside a transaction: wait until no other transaction holds the lock of this name
        (its parts, such as ``"blob", sha256``), then hold it until this one ends. SQLite already
        lets one writer at a time in (``BEGIN IMMEDIATE``); PostgreSQL takes a transaction-scoped
        advisory lock, so replicas take turns too."""
        if not self.is_sqlite:
            digest = hashlib.blake2b(":".join(name).encode(), digest_size=8).digest()
            key = int.from_bytes(digest, "big", signed=True)  # advisory locks take a bigint
            await self.fetch_all(sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def integrity_problems(self) -> list[str]:
        """What the database itself finds wrong with its files and references (SQLite's own
        checks; PostgreSQL guards both itself)."""
        if not self.is_sqlite:
            return []
        problems = []
        for row in await self.fetch_all(sa.text("PRAGMA integrity_check")):
            text = str(next(iter(row.values())))
            if text != "ok":
                problems.append(f"database: {text}")
        for row in await self.fetch_all(sa.text("PRAGMA foreign_key_check")):
            values = list(row.values())
            problems.append(f"database: row {values[1]} of {values[0]} points at a missing {values[2]}")
        return problems

    async def ping(self) -> None:
        await self.fetch_val(sa.text("SELECT 1 AS one"))
