"""SQLite's change token: ``PRAGMA data_version``, which moves whenever any other connection, in
this process or another, commits.

It is read on a dedicated connection that never writes, in a few microseconds and without I/O,
so hot paths can keep results for as long as it stays the same. (PostgreSQL's token is its
current snapshot: see ``PostgresEngine.snapshot``.)
"""

from __future__ import annotations

import sqlite3


class SQLiteDataVersion:
    def __init__(self, path: str) -> None:
        # Only ever used from the event loop's thread; the flag lets close() run anywhere.
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def current(self) -> int:
        row = self._connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._connection.close()
