"""A cheap token that moves whenever anything is committed to the database.

On SQLite it is ``PRAGMA data_version`` read on a dedicated connection that never writes: the
value changes when any other connection, in this process or another, commits. Reading it costs a
few microseconds and no I/O, so hot paths can keep results for as long as it stays the same. Other
databases have no such token (None): callers then simply do not cache.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol


class ChangeToken(Protocol):
    def current(self) -> int | None: ...

    def close(self) -> None: ...


class NoChangeToken:
    def current(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class SQLiteDataVersion:
    def __init__(self, path: str) -> None:
        # Only ever used from the event loop's thread; the flag lets close() run anywhere.
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def current(self) -> int | None:
        row = self._connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._connection.close()
