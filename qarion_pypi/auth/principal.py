from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established by an API key."""

    user_id: str
    username: str
    is_admin: bool
    api_key_id: str
