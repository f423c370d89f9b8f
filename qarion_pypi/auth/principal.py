"""Who is calling, as established by an API key or a minted upload token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Kinds of principal: a person, a space's robot account, a CI job holding a minted upload token,
# and nobody at all (a public repository's anonymous reader).
USER, ROBOT, PUBLISHER, ANONYMOUS = "user", "robot", "publisher", "anonymous"


@dataclass(frozen=True)
class Principal:
    user_id: str | None  # None for publishers and anonymous callers
    username: str
    is_admin: bool
    api_key_id: str
    kind: str = USER
    # What the key may do, within what its owner may: None is no limit.
    scopes: frozenset[str] | None = None
    repository_ids: frozenset[str] | None = None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def publisher_name(identity: Mapping[str, Any]) -> str:
    """How a minted token's holder is named (as uploader, in the audit log): ``oidc:`` and the CI
    job's repository, project path or subject."""
    who = identity.get("repository") or identity.get("project_path") or identity.get("sub") or "unknown"
    return f"oidc:{who}"


ANONYMOUS_PRINCIPAL = Principal(user_id=None, username="anonymous", is_admin=False, api_key_id="", kind=ANONYMOUS)
