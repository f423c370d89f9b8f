"""A pooled SQLite backend for ``databases``.

The stock backend opens a new aiosqlite connection (and thread) for every acquire. This one keeps
a few connections open, in WAL mode with a busy timeout, and starts write transactions with
``BEGIN IMMEDIATE`` so that writers queue on the lock instead of failing to upgrade it.
"""

from __future__ import annotations

import asyncio
import typing

import aiosqlite
from databases.backends.sqlite import SQLiteBackend, SQLiteConnection, SQLiteTransaction
from databases.core import DatabaseURL

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


class PooledSQLitePool:
    def __init__(self, url: DatabaseURL, size: int = 4) -> None:
        self._database = url.database
        self._size = size
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._opened = 0
        self._all: list[aiosqlite.Connection] = []
        self._memref = None  # read by SQLiteBackend.disconnect

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(self._database, isolation_level=None)
        await connection.__aenter__()
        for pragma in _PRAGMAS:
            await connection.execute(pragma)
        self._all.append(connection)
        return connection

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
        return await self._idle.get()

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


class ImmediateTransaction(SQLiteTransaction):
    async def start(self, is_root: bool, extra_options: dict[typing.Any, typing.Any]) -> None:
        if not is_root:
            await super().start(is_root, extra_options)
            return
        self._is_root = True
        raw = self._connection.raw_connection
        async with raw.execute("BEGIN IMMEDIATE") as cursor:
            await cursor.close()


class PooledSQLiteConnection(SQLiteConnection):
    def transaction(self) -> SQLiteTransaction:
        return ImmediateTransaction(self)


class PooledSQLiteBackend(SQLiteBackend):
    def __init__(self, database_url: DatabaseURL | str, **options: typing.Any) -> None:
        super().__init__(database_url, **options)
        self._pool = PooledSQLitePool(self._database_url)  # type: ignore[assignment]

    async def disconnect(self) -> None:
        await typing.cast(PooledSQLitePool, self._pool).close()

    def connection(self) -> PooledSQLiteConnection:
        return PooledSQLiteConnection(self._pool, self._dialect)
