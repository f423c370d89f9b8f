"""Users (people; robots are in ``robots``), deactivation and the bootstrap admin."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.auth.principal import USER, Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, FieldError, NotFound, ValidationFailed
from qarion_pypi.services.accounts import keys
from qarion_pypi.services.accounts.naming import USERNAME_RE

ADMIN_USERNAME = "admin"
_MIN_SUPPLIED_KEY_LENGTH = 16


async def create_user(ctx: Context, username: str, *, is_admin: bool = False) -> Row:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed(
            "Invalid username.",
            [FieldError("username", "must be 1-64 letters, digits, '.', '_' or '-'")],
        )
    async with ctx.db.transaction():
        if await get_user(ctx, username, missing_ok=True):
            raise Conflict(f"User {username!r} already exists.")
        row = {"id": new_id(), "username": username, "is_admin": is_admin, "created_at": utcnow(), "is_active": True,
               "kind": USER, "space_id": None}  # fmt: skip
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
    if user is None or not user["is_active"]:
        return None
    return Principal(user["id"], user["username"], user["is_admin"], api_key_id="", kind=user["kind"])


async def list_users(ctx: Context) -> list[Row]:
    return await ctx.db.fetch_all(sa.select(t.users).where(t.users.c.kind == USER).order_by(t.users.c.username))


async def set_active(ctx: Context, caller: Principal, user: Row, active: bool) -> Row:
    """Deactivate (every key fails at once) or reactivate an account; never one's own."""
    if not active and user["id"] == caller.user_id:
        raise Conflict("You cannot deactivate your own account.")
    await ctx.db.execute(t.users.update().where(t.users.c.id == user["id"]).values(is_active=active))
    return {**user, "is_active": active}


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
        _, key = await keys.create_key(ctx, admin, "bootstrap", key=supplied or None)
    return None if supplied else key
