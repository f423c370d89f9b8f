"""Row ids: random UUIDs, written as strings on every database."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    """Is ``value`` a UUID? Ids from paths are checked before they reach a query."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
