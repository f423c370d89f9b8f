"""Results of database reads kept for as long as the database has not changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from qarion_pypi.db.database import Database

T = TypeVar("T")


class Memo:
    """Memoizes async computations that only read the database.

    Every entry is dropped the moment the database's change token moves (any commit, by any
    process or replica), so a cached result is exactly what a fresh computation would return: a
    revoked key or a new upload is seen by the next request. A computation that raises is not
    remembered.
    """

    def __init__(self, db: Database, max_entries: int = 10_000) -> None:
        self._db = db
        self._max = max_entries
        self._token: object = None
        self._entries: dict[Hashable, Any] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        token = await self._db.change_token()
        if token != self._token:
            self._entries.clear()
            self._token = token
        if key in self._entries:
            value: T = self._entries[key]
            return value
        value = await compute()
        # Store only if nothing committed meanwhile: then the value reflects state ``token``.
        if await self._db.change_token() == token and self._token == token:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = value
        return value
