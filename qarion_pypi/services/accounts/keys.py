"""API keys of users and robots: made with optional limits (an expiry, scopes, repositories),
listed, revoked. The key text is shown once and never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.keys import display_prefix, generate_key, hash_key
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid, new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError, NotFound, ValidationFailed

SCOPES = ("read", "publish")


@dataclass(frozen=True)
class KeyLimits:
    """None is no limit: the key may do what its owner may."""

    expires_at: datetime | None = None
    scopes: tuple[str, ...] | None = None
    repository_ids: tuple[str, ...] | None = None


async def read_limits(ctx: Context, payload: dict[str, Any], *, space_id: str | None = None) -> KeyLimits:
    """The limits a key request asks for, checked (422 naming each field); with ``space_id``, the
    repositories must be in that space (a robot's keys)."""
    errors: list[FieldError] = []
    expires_at = None
    if payload.get("expires_at") is not None:
        try:
            expires_at = datetime.fromisoformat(payload["expires_at"])
        except ValueError:
            errors.append(FieldError("expires_at", "must be an ISO 8601 date and time"))
        else:
            if expires_at.tzinfo is None:
                errors.append(FieldError("expires_at", "must name its time zone (for example 2027-01-31T00:00:00Z)"))
            elif expires_at <= utcnow():
                errors.append(FieldError("expires_at", "must be in the future"))
    scopes = payload.get("scopes")
    if scopes is not None and (not scopes or any(scope not in SCOPES for scope in scopes)):
        errors.append(FieldError("scopes", f"must be a non-empty list of: {', '.join(SCOPES)}"))
    repository_ids = payload.get("repository_ids")
    if repository_ids is not None:
        errors += await _repository_problems(ctx, repository_ids, space_id)
    if errors:
        raise ValidationFailed("Invalid key limits.", errors)
    return KeyLimits(
        expires_at=expires_at,
        scopes=tuple(sorted(set(scopes))) if scopes is not None else None,
        repository_ids=tuple(dict.fromkeys(repository_ids)) if repository_ids is not None else None,
    )


async def _repository_problems(ctx: Context, ids: list[str], space_id: str | None) -> list[FieldError]:
    if not ids:
        return [FieldError("repository_ids", "must name at least one repository")]
    wanted = [value for value in ids if is_uuid(value)]
    query = sa.select(t.repositories.c.id).where(t.repositories.c.id.in_(wanted))
    if space_id is not None:
        query = query.where(t.repositories.c.space_id == space_id)
    known = {row["id"] for row in await ctx.db.fetch_all(query)} if wanted else set()
    unknown = [value for value in ids if value not in known]
    where = " in this space" if space_id is not None else ""
    return [FieldError("repository_ids", f"no repository {value!r}{where}") for value in unknown]


async def create_key(
    ctx: Context, owner: Row, name: str, limits: KeyLimits | None = None, key: str | None = None
) -> tuple[Row, str]:
    """A new key for ``owner`` (a user or robot row); the key text is returned this once."""
    limits = limits or KeyLimits()
    key = key or generate_key()
    row = {
        "id": new_id(),
        "user_id": owner["id"],
        "name": name,
        "prefix": display_prefix(key),
        "key_hash": hash_key(key),
        "created_at": utcnow(),
        "last_used_at": None,
        "revoked_at": None,
        "expires_at": limits.expires_at,
        "scopes": list(limits.scopes) if limits.scopes is not None else None,
        "repository_ids": list(limits.repository_ids) if limits.repository_ids is not None else None,
    }
    await ctx.db.execute(t.api_keys.insert().values(**row))
    return row, key


async def list_keys(ctx: Context, owner: Row) -> list[Row]:
    rows = await ctx.db.fetch_all(
        sa.select(t.api_keys).where(t.api_keys.c.user_id == owner["id"]).order_by(t.api_keys.c.created_at)
    )
    return [{**row, "last_used_at": ctx.key_usage.last_seen(row["id"], row["last_used_at"])} for row in rows]


async def revoke_key(ctx: Context, owner: Row, key_id: str) -> Row:
    """Revoked keys fail from the next request on; the row stays for the record."""
    row = None
    if is_uuid(key_id):
        row = await ctx.db.fetch_one(
            sa.select(t.api_keys).where(t.api_keys.c.id == key_id, t.api_keys.c.user_id == owner["id"])
        )
    if row is None:
        raise NotFound("API key not found.")
    if row["revoked_at"] is None:
        revoked_at = utcnow()
        await ctx.db.execute(t.api_keys.update().where(t.api_keys.c.id == key_id).values(revoked_at=revoked_at))
        row = {**row, "revoked_at": revoked_at}
    return row
