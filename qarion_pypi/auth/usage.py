"""When each API key was last used: noted in memory on the request path, written in batches.

Writing ``last_used_at`` while answering would put every read behind whatever holds the database's
write lock; a note in a dict costs nothing, and a flush every few seconds keeps the column as
fresh as anyone reads it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow


class KeyUsage:
    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}

    def note(self, key_id: str) -> None:
        if key_id:  # background work acts for a user without a key
            self._pending[key_id] = utcnow()

    def last_seen(self, key_id: str, stored: datetime | None) -> datetime | None:
        """The newer of ``stored`` and a use noted here but not yet written."""
        noted = self._pending.get(key_id)
        return max(noted, stored) if noted and stored else (noted or stored)

    async def flush(self, db: Database) -> int:
        """Write what was noted since the last flush; on failure it stays noted for the next."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            async with db.transaction():
                for key_id, when in pending.items():
                    await db.execute(
                        t.api_keys.update()
                        .where(
                            t.api_keys.c.id == key_id,
                            sa.or_(t.api_keys.c.last_used_at.is_(None), t.api_keys.c.last_used_at < when),
                        )
                        .values(last_used_at=when)
                    )
        except BaseException:
            for key_id, when in pending.items():  # newer notes made meanwhile win
                self._pending.setdefault(key_id, when)
            raise
        return len(pending)
