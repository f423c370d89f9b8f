"""Users, API keys, authentication and the bootstrap admin."""

from __future__ import annotations

import hmac

import sqlalchemy as sa

from qarion_pypi.auth.credentials import TOKEN_USERNAME, Credentials
from qarion_pypi.auth.keys import display_prefix, generate_key, hash_key
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, FieldError, NotFound, Unauthenticated, ValidationFailed
from qarion_pypi.services.accounts.naming import USERNAME_RE

ADMIN_USERNAME = "admin"
_MIN_SUPPLIED_KEY_LENGTH = 16


async def authenticate(ctx: Context, credentials: Credentials) -> Principal:
    """The principal behind an API key, or Unauthenticated."""
    digest = hash_key(credentials.key)
    row = await ctx.db.fetch_one(
        sa.select(
            t.api_keys.c.id,
            t.api_keys.c.key_hash,
            t.users.c.id.label("user_id"),
            t.users.c.username,
            t.users.c.is_admin,
        )
        .join(t.users, t.users.c.id == t.api_keys.c.user_id)
        .where(t.api_keys.c.key_hash == digest, t.api_keys.c.revoked_at.is_(None))
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        raise Unauthenticated("Invalid or revoked API key.")
    if credentials.username not in (None, TOKEN_USERNAME, row["username"]):
        raise Unauthenticated(f"Basic auth username must be {TOKEN_USERNAME!r}.")
    ctx.key_usage.note(row["id"])  # written in batches, never on the request path
    return Principal(user_id=row["user_id"], username=row["username"], is_admin=row["is_admin"], api_key_id=row["id"])


async def create_user(ctx: Context, username: str, *, is_admin: bool = False) -> Row:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed(
            "Invalid username.",
            [FieldError("username", "must be 1-64 letters, digits, '.', '_' or '-'")],
        )
    async with ctx.db.transaction():
        if await get_user(ctx, username, missing_ok=True):
            raise Conflict(f"User {username!r} already exists.")
        row = {"id": new_id(), "username": username, "is_admin": is_admin, "created_at": utcnow()}
        await ctx.db.execute(t.users.insert().values(**row))
    return row


async def get_user(ctx: Context, username: str, *, missing_ok: bool = False) -> Row | None:
    row = await ctx.db.fetch_one(sa.select(t.users).where(t.users.c.username == username))
    if row is None and not missing_ok:
        raise NotFound(f"User {username!r} not found.")
    return row


async def require_user(ctx: Context, username: str) -> Row:
    row = await get_user(ctx, username)
    assert row is not None
    return row


async def key_owner(ctx: Context, caller: Principal, username: str) -> Row:
    """The user whose keys ``caller`` manages: themselves, or anyone for a platform admin.
    Another user's name is a 404 for everyone else, as if that user did not exist."""
    if caller.username != username and not caller.is_admin:
        raise NotFound(f"User {username!r} not found.")
    return await require_user(ctx, username)


async def principal_of(ctx: Context, user_id: str | None) -> Principal | None:
    """The user with this id acting without a key (a background job's creator), if they still exist."""
    user = await ctx.db.fetch_one(sa.select(t.users).where(t.users.c.id == user_id)) if user_id else None
    return Principal(user["id"], user["username"], user["is_admin"], api_key_id="") if user else None


async def list_users(ctx: Context) -> list[Row]:
    return await ctx.db.fetch_all(sa.select(t.users).order_by(t.users.c.username))


async def create_api_key(ctx: Context, user: Row, name: str, key: str | None = None) -> tuple[Row, str]:
    """A new key for ``user``; the key text is returned this once and never stored."""
    key = key or generate_key()
    row = {
        "id": new_id(),
        "user_id": user["id"],
        "name": name,
        "prefix": display_prefix(key),
        "key_hash": hash_key(key),
        "created_at": utcnow(),
        "last_used_at": None,
        "revoked_at": None,
    }
    await ctx.db.execute(t.api_keys.insert().values(**row))
    return row, key


async def list_api_keys(ctx: Context, user: Row) -> list[Row]:
    rows = await ctx.db.fetch_all(
        sa.select(t.api_keys).where(t.api_keys.c.user_id == user["id"]).order_by(t.api_keys.c.created_at)
    )
    return [{**row, "last_used_at": ctx.key_usage.last_seen(row["id"], row["last_used_at"])} for row in rows]


async def revoke_api_key(ctx: Context, user: Row, key_id: str) -> Row:
    """Revoked keys fail from the next request on; the row stays for the record."""
    row = await ctx.db.fetch_one(
        sa.select(t.api_keys).where(t.api_keys.c.id == key_id, t.api_keys.c.user_id == user["id"])
    )
    if row is None:
        raise NotFound("API key not found.")
    if row["revoked_at"] is None:
        revoked_at = utcnow()
        await ctx.db.execute(t.api_keys.update().where(t.api_keys.c.id == key_id).values(revoked_at=revoked_at))
        row = {**row, "revoked_at": revoked_at}
    return row


async def bootstrap(ctx: Context) -> str | None:
    """Create the platform admin on a new database; returns a generated key to print once."""
    if await get_user(ctx, ADMIN_USERNAME, missing_ok=True):
        return None
    supplied = ctx.settings.admin_key
    if supplied and len(supplied) < _MIN_SUPPLIED_KEY_LENGTH:
        raise ValueError(f"QARION_PYPI_ADMIN_KEY must be at least {_MIN_SUPPLIED_KEY_LENGTH} characters")
    async with ctx.db.transaction():
        await ctx.db.lock("bootstrap")  # replicas starting together: the first one creates it
        if await get_user(ctx, ADMIN_USERNAME, missing_ok=True):
            return None
        admin = await create_user(ctx, ADMIN_USERNAME, is_admin=True)
        _, key = await create_api_key(ctx, admin, "bootstrap", key=supplied or None)
    return None if supplied else key
