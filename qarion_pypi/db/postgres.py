"""PostgreSQL through an asyncpg pool, behind the same calls as the SQLite engine.

Statements are SQLAlchemy Core compiled once for the asyncpg dialect (``$1`` parameters), with
the column types' own bind and result processing applied, so rows come back exactly as they do
from SQLite: aware datetimes, decoded JSON. A transaction holds one connection for the task that
opened it (a context variable), and nested ones become savepoints. Writers that must not
interleave take transaction-scoped advisory locks; an unmet lock timeout is a 503, a unique or
foreign-key violation a 409: never a 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from qarion_pypi.db.statements import Compilations, Params
from qarion_pypi.db.waits import PoolWaits
from qarion_pypi.errors import Conflict, Unavailable

BUSY_RETRY_AFTER = 2


class PostgresEngine:
    def __init__(
        self, url: str, *, lock_timeout: float = 10.0, pool_size: int = 10, waits: PoolWaits | None = None
    ) -> None:
        self._waits = waits or PoolWaits()
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._lock_timeout = lock_timeout
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._current: ContextVar[asyncpg.Connection | None] = ContextVar(f"pg-{id(self)}", default=None)
        self.dialect: Dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
        self._statements = Compilations(self.dialect)

    async def connect(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=1,
            max_size=self._pool_size,
            init=_init_connection,
            # Writers wait this long for a row or advisory lock before their request is a 503.
            server_settings={"lock_timeout": f"{int(self._lock_timeout * 1000)}ms"},
        )

    async def disconnect(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        current = self._current.get()
        if current is not None:  # nested: a savepoint on the task's connection
            async with current.transaction():
                yield
            return
        assert self._pool is not None, "connect() first"
        started = time.perf_counter()
        async with self._pool.acquire() as connection:
            self._waits.since(started)
            token = self._current.set(connection)
            try:
                async with connection.transaction():
                    yield
            finally:
                self._current.reset(token)

    async def fetch_all(
        self, query: ClauseElement, params: Params | None = None, *, quick: bool = False
    ) -> list[dict[str, Any]]:
        """``quick`` changes nothing here: every statement is a round trip on the loop already."""
        compiled, args = self._statements.of(query, params)
        records = await self._run("fetch", compiled.sql, args)
        return compiled.rows(records, list(records[0].keys()) if records else [])

    async def execute(self, query: ClauseElement, params: Params | None = None) -> int:
        """The number of rows a DML statement touched (0 for DDL)."""
        compiled, args = self._statements.of(query, params)
        status: str = await self._run("execute", compiled.sql, args)
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def _run(self, method: str, sql: str, args: list[Any]) -> Any:
        connection = self._current.get()
        try:
            if connection is not None:
                return await getattr(connection, method)(sql, *args)
            assert self._pool is not None, "connect() first"
            started = time.perf_counter()
            async with self._pool.acquire() as pooled:
                self._waits.since(started)
                return await getattr(pooled, method)(sql, *args)
        except (asyncpg.UniqueViolationError, asyncpg.ForeignKeyViolationError):
            raise Conflict("A conflicting change was made at the same moment; look again and retry.") from None
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
            raise Unavailable(
                "The database is busy with other writes; try again shortly.", retry_after=BUSY_RETRY_AFTER
            ) from None

    async def snapshot(self) -> str:
        """Moves whenever any transaction that wrote begins or ends, on any replica."""
        assert self._pool is not None
        return str(await self._pool.fetchval("SELECT pg_current_snapshot()::text"))


async def _init_connection(connection: asyncpg.Connection) -> None:
    # JSON arrives as text; the columns' bind processing already wrote it as text.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, encoder=lambda value: value, decoder=json.loads, schema="pg_catalog")
