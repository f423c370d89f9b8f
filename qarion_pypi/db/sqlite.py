"""SQLite through ``databases`` with a pooled backend, behind the engine calls ``Database`` uses.

The stock backend opens a new aiosqlite connection (and thread) for every acquire. This one keeps
a few connections open, in WAL mode with a busy timeout, and starts write transactions with
``BEGIN IMMEDIATE`` so that writers queue on the lock instead of failing to upgrade it: with one
writer at a time, SQLite needs no other lock. ``databases`` manages the connections and
transactions; statements are compiled by ``db/statements.py`` and run here, on the connection's
thread or, inside a write transaction and for quick lookups, on the event loop's (``_holding``).
The WAL is checkpointed in the background, on a connection's thread, never inside a COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import typing
import uuid
import weakref
from typing import Any

import aiosqlite
import databases
from databases.backends.sqlite import SQLiteBackend, SQLiteConnection, SQLiteTransaction
from databases.core import DatabaseURL
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from qarion_pypi.db.statements import Compilations, Params
from qarion_pypi.db.waits import PoolWaits
from qarion_pypi.errors import Conflict, InsufficientStorage, Unavailable

_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    # No checkpoint inside a COMMIT, which runs on the event loop (``Writers``): the pool starts
    # them in the background instead.
    "PRAGMA wal_autocheckpoint=0",
    # A WAL that grew in a burst is cut back to this when it starts over.
    f"PRAGMA journal_size_limit={64 * 1024 * 1024}",
)
BUSY_RETRY_AFTER = 2  # seconds a client is told to wait when the write lock stayed taken
# Writes of this process (statements or transactions that changed rows) between two checkpoints
# of the WAL. A checkpoint copies what was committed into the database file and syncs it: tens of
# milliseconds that used to stop the event loop inside about every fiftieth upload's COMMIT
# (SQLite's own default, every 1,000 pages).
CHECKPOINT_EVERY = 64

log = logging.getLogger(__name__)


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
        self.writers = Writers(self._busy_ms, self._waits)
        self._changes: dict[int, int] = {}  # per connection: its total of changed rows, last seen
        self._writes = 0  # units of work that changed rows since the last checkpoint
        self._checkpointing: asyncio.Task[None] | None = None

    async def _open(self) -> aiosqlite.Connection:
        # Used from the loop's thread too, while its write transaction holds the lock (_holding).
        connection = aiosqlite.connect(self._database, isolation_level=None, check_same_thread=False)
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
        self._count_writes(connection)
        assert self._idle is not None
        self._idle.put_nowait(connection)

    def _count_writes(self, connection: aiosqlite.Connection) -> None:
        """A connection comes back after a statement or a transaction; once ``CHECKPOINT_EVERY``
        of them changed rows, a checkpoint starts in the background."""
        changes = connection._conn.total_changes
        if changes == self._changes.get(id(connection), 0):
            return
        self._changes[id(connection)] = changes
        self._writes += 1
        if self._writes >= CHECKPOINT_EVERY and self._checkpointing is None:
            self._writes = 0
            self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database file, on a connection's own thread:
        first PASSIVE, writers going on meanwhile; then what they wrote meanwhile, while they
        wait (``_catch_up``).

        A WAL is started over only by a write that begins after a checkpoint has copied all of
        it, which one that writers keep adding to never has: under a steady stream of uploads
        the WAL grew by every write (1.3 GB after 12,000 uploads, the database 24 MB), and every
        page read searched more of it."""
        try:
            connection = await self.acquire()
            try:
                await _execute(connection, "PRAGMA wal_checkpoint(PASSIVE)", [])
                await self._catch_up(connection)
            finally:
                await self.release(connection)
        except Exception:  # the next one catches up; the WAL only grows meanwhile
            log.warning("could not checkpoint the WAL", exc_info=True)
        finally:
            self._checkpointing = None

    async def _catch_up(self, connection: aiosqlite.Connection) -> None:
        """Checkpoint the rest while a write transaction on another connection holds this
        process's writers' turn and SQLite's write lock (other processes' writers wait too): a
        few pages and one sync, after which the next write starts the WAL over."""
        holder = await self.acquire()
        try:
            await self.writers.begin(holder)
            try:
                await _execute(connection, "PRAGMA wal_checkpoint(PASSIVE)", [])
            finally:
                await self.writers.end(holder, "ROLLBACK")
        finally:
            await self.release(holder)

    async def close(self) -> None:
        if self._checkpointing is not None:  # finished before its connection closes
            await asyncio.shield(self._checkpointing)
        for connection in self._all:
            await connection.close()
        self._all.clear()
        self._changes.clear()
        self._opened = 0
        self._idle = None
        self.writers = Writers(self._busy_ms, self._waits)  # its lock belongs to the loop that used it


def _run(connection: sqlite3.Connection, sql: str, args: list[Any]) -> tuple[Any, list[Any], int]:
    """Execute, fetch and close in the connection's own thread: one round trip, not three."""
    cursor = connection.execute(sql, args)
    try:
        return cursor.description, cursor.fetchall(), cursor.rowcount
    finally:
        cursor.close()


# Connections whose write transaction holds the write lock. Their statements, up to and with the
# COMMIT, run on the event loop's thread: they can no longer wait for a lock, an indexed write
# takes microseconds, and a trip to the connection's thread costs 150-200 us and lets every other
# task run before the holder resumes, which is what made the lock's hold time grow with the
# number of writers. Reads outside a write transaction run on the connection's thread: they may
# be long (a root page of every project), and there they do not stop the loop.
_holding: weakref.WeakSet[aiosqlite.Connection] = weakref.WeakSet()


async def _execute(
    connection: aiosqlite.Connection, sql: str, args: list[Any], *, quick: bool = False
) -> tuple[Any, list[Any], int]:
    # aiosqlite's _execute runs a callable on its worker thread with the sqlite3 connection.
    try:
        if quick or connection in _holding:
            return _run(connection._conn, sql, args)
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
            await self._writers.begin(self._connection.raw_connection)
        else:
            self._savepoint_name = f"QARION_SAVEPOINT_{uuid.uuid4().hex}"
            await self._statement(f"SAVEPOINT {self._savepoint_name}")

    async def commit(self) -> None:
        if self._is_root:
            await self._writers.end(self._connection.raw_connection, "COMMIT")
        else:
            await self._statement(f"RELEASE SAVEPOINT {self._savepoint_name}")

    async def rollback(self) -> None:
        if self._is_root:
            await self._writers.end(self._connection.raw_connection, "ROLLBACK")
        else:
            await self._statement(f"ROLLBACK TO SAVEPOINT {self._savepoint_name}")

    @property
    def _writers(self) -> Writers:
        return typing.cast(PooledSQLitePool, self._connection._pool).writers

    async def _statement(self, sql: str) -> None:
        await _execute(self._connection.raw_connection, sql, [])


class Writers:
    """This process's writers take turns on an asyncio lock before ``BEGIN IMMEDIATE``: the next
    one starts as soon as a commit returns, instead of when SQLite's busy handler next wakes it
    (1 ms, then 2, 5, 10 ... up to 100 ms between tries). Then ``BEGIN IMMEDIATE`` is tried on the
    loop's thread without waiting; only when another process holds the lock does the connection's
    thread wait for it, up to the lock timeout."""

    def __init__(self, busy_ms: int, waits: PoolWaits) -> None:
        self._busy_ms = busy_ms
        self._waits = waits
        self._turn = asyncio.Lock()

    async def begin(self, connection: aiosqlite.Connection) -> None:
        started = time.perf_counter() if self._turn.locked() else None
        try:
            async with asyncio.timeout(self._busy_ms / 1000):
                await self._turn.acquire()
        except TimeoutError:
            raise _refusal(sqlite3.OperationalError("database is locked")) from None
        if started is not None:  # waiting for the turn is waiting for the database too
            self._waits.since(started)
        try:
            if not self._begin_at_once(connection._conn):
                await _execute(connection, "BEGIN IMMEDIATE", [])
        except BaseException:
            self._turn.release()
            raise
        _holding.add(connection)

    def _begin_at_once(self, sqlite: sqlite3.Connection) -> bool:
        sqlite.execute("PRAGMA busy_timeout=0")
        try:
            sqlite.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                raise _refusal(exc) from exc
            return False
        finally:
            sqlite.execute(f"PRAGMA busy_timeout={self._busy_ms}")

    async def end(self, connection: aiosqlite.Connection, sql: str) -> None:
        """COMMIT or ROLLBACK, on the loop's thread too: neither waits for a lock, and a commit
        returns to the loop only with the lock released (and never checkpoints: see the pool)."""
        try:
            await _execute(connection, sql, [])
        finally:
            _holding.discard(connection)
            self._turn.release()


class PooledSQLiteConnection(SQLiteConnection):
    def transaction(self) -> SQLiteTransaction:
        return ImmediateTransaction(self)


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
        self._statements = Compilations(self.dialect)
        self.path = self._db.url.database

    async def connect(self) -> None:
        await self._db.connect()

    async def disconnect(self) -> None:
        await self._db.disconnect()

    def transaction(self) -> typing.AsyncContextManager[None]:
        return _transaction(self._db)

    async def fetch_all(
        self, query: ClauseElement, params: Params | None = None, *, quick: bool = False
    ) -> list[dict[str, Any]]:
        compiled, args = self._statements.of(query, params)
        async with self._db.connection() as connection:  # the task's own, or its transaction's
            description, rows, _ = await _execute(connection.raw_connection, compiled.sql, args, quick=quick)
        return compiled.rows(rows, [column[0] for column in description or ()])

    async def execute(self, query: ClauseElement, params: Params | None = None) -> int:
        compiled, args = self._statements.of(query, params)
        async with self._db.connection() as connection:
            _, _, count = await _execute(connection.raw_connection, compiled.sql, args)
        return max(count, 0)


@contextlib.asynccontextmanager
async def _transaction(db: databases.Database) -> typing.AsyncIterator[None]:
    async with db.transaction():
        yield
