"""SQLite through ``databases`` with a pooled backend, behind the engine calls ``Database`` uses.

The stock backend opens a new aiosqlite connection (and thread) for every acquire. This one keeps
a few connections open, in WAL mode with a busy timeout, and starts write transactions with
``BEGIN IMMEDIATE`` so that writers queue on the lock instead of failing to upgrade it: with one
writer at a time, SQLite needs no other lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import typing
import uuid
from typing import Any, ClassVar

import aiosqlite
import databases
from databases.backends.common.records import Record, Row, create_column_maps
from databases.backends.sqlite import CompilationContext, SQLiteBackend, SQLiteConnection, SQLiteTransaction
from databases.core import DatabaseURL
from databases.interfaces import Record as RecordInterface
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.cursor import CursorResultMetaData
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.ddl import DDLElement

from qarion_pypi.db.statements import positional_args
from qarion_pypi.db.waits import PoolWaits
from qarion_pypi.errors import Conflict, InsufficientStorage, Unavailable

_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
BUSY_RETRY_AFTER = 2  # seconds a client is told to wait when the write lock stayed taken


class PooledSQLitePool:
    def __init__(
        self, url: DatabaseURL, size: int = 4, lock_timeout: float = 10.0, waits: PoolWaits | None = None
    ) -> None:
        self._database = url.database
        self._waits = waits or PoolWaits()
        self._size = size
        # How long a writer waits for the write lock before its request is answered 503.
        self._busy_ms = int(lock_timeout * 1000)
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._opened = 0
        self._all: list[aiosqlite.Connection] = []
        self._memref = None  # read by SQLiteBackend.disconnect

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(self._database, isolation_level=None)
        await connection.__aenter__()
        try:
            await connection.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            await self._use_wal(connection)
            for pragma in _PRAGMAS:
                await connection.execute(pragma)
        except BaseException:
            await connection.close()
            raise
        self._all.append(connection)
        return connection

    async def _use_wal(self, connection: aiosqlite.Connection) -> None:
        """Switch a database to WAL (it stays so). The switch does not wait on SQLite's busy
        handler: while another process opening the same new database holds its lock, the switch
        is retried until the lock timeout."""
        deadline = asyncio.get_running_loop().time() + self._busy_ms / 1000
        while True:
            try:
                await connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.02)

    async def acquire(self) -> aiosqlite.Connection:
        if self._idle is None:
            self._idle = asyncio.Queue()
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1
            try:
                return await self._open()
            except BaseException:
                self._opened -= 1
                raise
        if not self._idle.empty():
            return self._idle.get_nowait()
        started = time.perf_counter()  # every connection is busy: this caller waits
        connection = await self._idle.get()
        self._waits.since(started)
        return connection

    async def release(self, connection: aiosqlite.Connection) -> None:
        if connection.in_transaction:  # a cancelled request must not leak its transaction
            await connection.rollback()
        assert self._idle is not None
        self._idle.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()
        self._all.clear()
        self._opened = 0
        self._idle = None


def _run(connection: sqlite3.Connection, sql: str, args: list[Any]) -> tuple[Any, list[Any], int]:
    """Execute, fetch and close in the connection's own thread: one round trip, not three."""
    cursor = connection.execute(sql, args)
    try:
        return cursor.description, cursor.fetchall(), cursor.rowcount
    finally:
        cursor.close()


async def _in_thread(connection: aiosqlite.Connection, sql: str, args: list[Any]) -> tuple[Any, list[Any], int]:
    # aiosqlite's _execute runs a callable on its worker thread with the sqlite3 connection.
    try:
        result: tuple[Any, list[Any], int] = await connection._execute(_run, connection._conn, sql, args)  # type: ignore[no-untyped-call]
    except sqlite3.OperationalError as exc:
        raise _refusal(exc) from exc
    except sqlite3.IntegrityError as exc:
        raise _conflict(exc) from exc
    return result


def _refusal(exc: sqlite3.OperationalError) -> Exception:
    """What a client should hear when SQLite cannot do it: busy past the lock timeout is a 503
    worth retrying; a full disk is a 507. Anything else stays the error it is."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc):
        return Unavailable("The database is busy with other writes; try again shortly.", retry_after=BUSY_RETRY_AFTER)
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return InsufficientStorage()
    return exc


def _conflict(exc: sqlite3.IntegrityError) -> Exception:
    """A unique or foreign-key violation: somebody else's change came first."""
    return Conflict("A conflicting change was made at the same moment; look again and retry.")


class ImmediateTransaction(SQLiteTransaction):
    """``BEGIN IMMEDIATE``: writers queue on the lock instead of failing to upgrade it."""

    async def start(self, is_root: bool, extra_options: dict[typing.Any, typing.Any]) -> None:
        self._is_root = is_root
        if is_root:
            await self._statement("BEGIN IMMEDIATE")
        else:
            self._savepoint_name = f"QARION_SAVEPOINT_{uuid.uuid4().hex}"
            await self._statement(f"SAVEPOINT {self._savepoint_name}")

    async def commit(self) -> None:
        await self._statement("COMMIT" if self._is_root else f"RELEASE SAVEPOINT {self._savepoint_name}")

    async def rollback(self) -> None:
        await self._statement("ROLLBACK" if self._is_root else f"ROLLBACK TO SAVEPOINT {self._savepoint_name}")

    async def _statement(self, sql: str) -> None:
        await _in_thread(self._connection.raw_connection, sql, [])


class PooledSQLiteConnection(SQLiteConnection):
    """Adds a compiled-statement cache: ``databases`` compiles every statement on every call,
    which costs more than running a typical indexed query on SQLite."""

    _compiled: ClassVar[dict[Any, Any]] = {}
    _MAX_COMPILED = 2000

    def transaction(self) -> SQLiteTransaction:
        return ImmediateTransaction(self)

    # databases' SQLite and interface classes disagree on the Record type they return.
    async def fetch_all(self, query: ClauseElement) -> list[RecordInterface]:  # type: ignore[override]
        sql, args, result_columns, context = self._compile(query)
        description, rows, _ = await _in_thread(self.raw_connection, sql, args)
        return _records(rows, description, result_columns, context, self._dialect)

    async def fetch_one(self, query: ClauseElement) -> RecordInterface | None:  # type: ignore[override]
        records = await self.fetch_all(query)
        return records[0] if records else None

    async def execute(self, query: ClauseElement) -> Any:
        sql, args, _, _ = self._compile(query)
        _, _, outcome = await _in_thread(self.raw_connection, sql, args)
        return outcome

    # databases annotates _compile as a 3-tuple but returns (sql, args, result_map, context).
    def _compile(self, query: ClauseElement) -> Any:
        cache_key = None if isinstance(query, DDLElement) else query._generate_cache_key()
        if cache_key is None:
            return super()._compile(query)
        compiled: Any = self._compiled.get(cache_key.key)
        if compiled is None:
            compiled = query.compile(dialect=self._dialect, cache_key=cache_key)
            if "POSTCOMPILE" in compiled.string:  # IN lists and the like expand per call
                return super()._compile(query)
            if len(self._compiled) >= self._MAX_COMPILED:
                self._compiled.clear()
            self._compiled[cache_key.key] = compiled
        return _bind(compiled, cache_key.bindparams, self._dialect)


def _records(
    rows: list[Any], description: Any, result_columns: Any, context: Any, dialect: Any
) -> list[RecordInterface]:
    """Rows as ``databases`` Records, built the way its own backend builds them."""
    if not rows:
        return []
    column_maps = create_column_maps(result_columns)
    metadata = CursorResultMetaData(context, description)
    return [
        Record(Row(metadata, metadata._processors, metadata._keymap, row), result_columns, dialect, column_maps)  # type: ignore[arg-type]
        for row in rows
    ]


def _bind(compiled: Any, extracted: Any, dialect: Any) -> tuple[str, list[Any], Any, CompilationContext]:
    """What ``SQLiteConnection._compile`` returns, from a cached compilation and this call's values."""
    args = positional_args(compiled, compiled.construct_params(extracted_parameters=extracted))
    context = dialect.execution_ctx_cls()
    context.dialect = dialect
    context.result_column_struct = (
        compiled._result_columns,
        compiled._ordered_columns,
        compiled._textual_ordered_columns,
        compiled._ad_hoc_textual,
        compiled._loose_column_name_matching,
    )
    return compiled.string, args, compiled._result_columns, CompilationContext(context)


class PooledSQLiteBackend(SQLiteBackend):
    def __init__(
        self,
        database_url: DatabaseURL | str,
        lock_timeout: float = 10.0,
        waits: PoolWaits | None = None,
        **options: typing.Any,
    ) -> None:
        super().__init__(database_url, **options)
        self._pool = PooledSQLitePool(self._database_url, lock_timeout=lock_timeout, waits=waits)  # type: ignore[assignment]

    async def disconnect(self) -> None:
        await typing.cast(PooledSQLitePool, self._pool).close()

    def connection(self) -> PooledSQLiteConnection:
        return PooledSQLiteConnection(self._pool, self._dialect)


class _Databases(databases.Database):
    SUPPORTED_BACKENDS = {  # noqa: RUF012 (the base class declares it as a plain attribute)
        **databases.Database.SUPPORTED_BACKENDS,
        "sqlite": "qarion_pypi.db.sqlite:PooledSQLiteBackend",
    }


class SQLiteEngine:
    """The calls ``Database`` makes, on ``databases`` with the pooled backend above."""

    def __init__(self, url: str, *, lock_timeout: float = 10.0, waits: PoolWaits | None = None) -> None:
        self._db = _Databases(url, lock_timeout=lock_timeout, waits=waits)
        self.dialect: Dialect = sqlite_dialect.dialect()
        self.path = self._db.url.database

    async def connect(self) -> None:
        await self._db.connect()

    async def disconnect(self) -> None:
        await self._db.disconnect()

    def transaction(self) -> typing.AsyncContextManager[None]:
        return _transaction(self._db)

    async def fetch_all(self, query: ClauseElement) -> list[dict[str, Any]]:
        return [dict(record._mapping) for record in await self._db.fetch_all(query)]

    async def execute(self, query: ClauseElement) -> int:
        return int(await self._db.execute(query) or 0)


@contextlib.asynccontextmanager
async def _transaction(db: databases.Database) -> typing.AsyncIterator[None]:
    async with db.transaction():
        yield
