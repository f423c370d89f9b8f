"""Who a request's credentials belong to: an API key's owner (a user or a space's robot), within
the key's limits, or a CI job holding a minted upload token.

The Basic username must name what the secret belongs to: ``__token__`` or the owner's username
(``sa$<name>`` for a robot) for a key, ``__token__`` or ``oidc`` for a minted token. A revoked or
expired key, or one whose account is deactivated, fails with a reason.
"""

from __future__ import annotations

import hmac
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.credentials import TOKEN_USERNAME, Credentials
from qarion_pypi.auth.keys import MINTED_PREFIX, hash_key
from qarion_pypi.auth.principal import PUBLISHER, ROBOT, USER, Principal, publisher_name
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Unauthenticated

OIDC_USERNAME = "oidc"


async def authenticate(ctx: Context, credentials: Credentials) -> Principal:
    """The principal behind the credentials, or Unauthenticated saying why."""
    if credentials.key.startswith(MINTED_PREFIX):
        return await _minted(ctx, credentials)
    digest = hash_key(credentials.key)
    row = await ctx.db.fetch_one(_KEY_BY_HASH, {"digest": digest}, quick=True)
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        raise Unauthenticated("Invalid or revoked API key.")
    found = usable_key(row)
    if credentials.username not in (None, TOKEN_USERNAME, row["username"]):
        raise Unauthenticated(f"Basic auth username must be {TOKEN_USERNAME!r} or {row['username']!r} for this key.")
    ctx.key_usage.note(row["id"])  # written in batches, never on the request path
    return found


def key_query() -> sa.Select[Any]:
    """API keys joined with their owners: what ``usable_key`` reads."""
    return sa.select(
        t.api_keys.c.id, t.api_keys.c.key_hash, t.api_keys.c.revoked_at, t.api_keys.c.expires_at,
        t.api_keys.c.scopes, t.api_keys.c.repository_ids, t.users.c.id.label("user_id"), t.users.c.username,
        t.users.c.is_admin, t.users.c.is_active, t.users.c.kind,
    ).join(t.users, t.users.c.id == t.api_keys.c.user_id)  # fmt: skip


_KEY_BY_HASH = key_query().where(t.api_keys.c.key_hash == sa.bindparam("digest"))  # built once: the hot path


def usable_key(row: Row) -> Principal:
    """The principal of a key row from ``key_query``, or Unauthenticated saying why it is not
    usable now (revoked, its owner deactivated, expired)."""
    if row["revoked_at"] is not None:
        raise Unauthenticated("Invalid or revoked API key.")
    if not row["is_active"]:
        raise Unauthenticated(f"The account {row['username']!r} is deactivated.")
    found = key_principal(row)
    if found.expired(utcnow()):
        raise Unauthenticated("This API key has expired.")
    return found


def key_principal(row: Row) -> Principal:
    """An API key row (joined with its owner) as a principal."""
    return Principal(
        user_id=row["user_id"],
        username=row["username"],
        is_admin=bool(row["is_admin"]) and row["kind"] == USER,
        api_key_id=row["id"],
        kind=ROBOT if row["kind"] == ROBOT else USER,
        scopes=frozenset(row["scopes"]) if row["scopes"] is not None else None,
        repository_ids=frozenset(row["repository_ids"]) if row["repository_ids"] is not None else None,
        expires_at=row["expires_at"],
    )


async def _minted(ctx: Context, credentials: Credentials) -> Principal:
    digest = hash_key(credentials.key)
    row = await ctx.db.fetch_one(sa.select(t.publish_tokens).where(t.publish_tokens.c.token_hash == digest), quick=True)
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        raise Unauthenticated("Invalid upload token.")
    if credentials.username not in (None, TOKEN_USERNAME, OIDC_USERNAME):
        raise Unauthenticated(
            f"Basic auth username must be {OIDC_USERNAME!r} or {TOKEN_USERNAME!r} for a minted token."
        )
    found = Principal(
        user_id=None,
        username=publisher_name(row["identity"]),  # what uploads and the audit log name as the uploader
        is_admin=False,
        api_key_id=row["id"],
        kind=PUBLISHER,
        scopes=frozenset({"publish"}),
        repository_ids=frozenset(row["repository_ids"]),
        expires_at=row["expires_at"],
    )
    if found.expired(utcnow()):
        raise Unauthenticated("This upload token has expired; mint a new one from the CI job's OIDC token.")
    return found
