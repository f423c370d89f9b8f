"""Web interface sign-ins: an API key, typed once, becomes a session.

The session stands for the key it was made from: each request checks that key again (revoked,
owner deactivated, expired), so a session is never more than the key and ends with it. Signing
out deletes the row, so a copied cookie is worthless afterwards.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from qarion_pypi.auth.credentials import Credentials
from qarion_pypi.auth.keys import MINTED_PREFIX, hash_key
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Unauthenticated
from qarion_pypi.services.accounts.authentication import authenticate, key_query, usable_key

SESSION_LIFETIME = timedelta(hours=12)
MAX_KEY_LENGTH = 512  # longer than any key this server makes


@dataclass(frozen=True)
class WebSession:
    id: str
    csrf_token: str
    principal: Principal
    token: str | None = None  # the cookie's secret, only when the session was just made


async def sign_in(ctx: Context, key: str) -> WebSession:
    """A new session for the key's owner, or Unauthenticated saying why not."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Unauthenticated("Type an API key to sign in.")
    if key.startswith(MINTED_PREFIX):
        raise Unauthenticated("Upload tokens minted for CI jobs cannot sign in; use an API key.")
    caller = await authenticate(ctx, Credentials(key=key, username=None))
    assert caller.api_key_id is not None
    token, now = secrets.token_urlsafe(32), utcnow()
    session = WebSession(new_id(), secrets.token_urlsafe(32), caller, token)
    async with ctx.db.transaction():
        await ctx.db.execute(t.web_sessions.delete().where(t.web_sessions.c.expires_at < now))
        await ctx.db.execute(
            t.web_sessions.insert().values(
                id=session.id,
                token_hash=hash_key(token),
                api_key_id=caller.api_key_id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return session


async def resume(ctx: Context, token: str) -> WebSession | None:
    """The live session of a cookie's token, or None (unknown, expired, signed out, or its key
    no longer usable)."""
    digest = hash_key(token)
    row = await ctx.db.fetch_one(
        key_query()
        .add_columns(
            t.web_sessions.c.id.label("session_id"),
            t.web_sessions.c.token_hash,
            t.web_sessions.c.csrf_token,
            t.web_sessions.c.expires_at.label("session_expires_at"),
        )
        .join(t.web_sessions, t.web_sessions.c.api_key_id == t.api_keys.c.id)
        .where(t.web_sessions.c.token_hash == digest)
    )
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    if row["session_expires_at"] <= utcnow():
        return None
    try:
        caller = usable_key(row)
    except Unauthenticated:
        return None
    ctx.key_usage.note(row["id"])
    return WebSession(row["session_id"], row["csrf_token"], caller)


async def sign_out(ctx: Context, session_id: str) -> None:
    await ctx.db.execute(t.web_sessions.delete().where(t.web_sessions.c.id == session_id))
