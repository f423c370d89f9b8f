"""Slugs and usernames: one rule each, shared by every service."""

from __future__ import annotations

import re

import sqlalchemy as sa

from qarion_pypi.db import Database, Row
from qarion_pypi.errors import Conflict, FieldError, NotFound, ValidationFailed

# Written for both Python (fullmatch) and JSON Schema (ECMA 262), which the OpenAPI document uses.
SLUG_PATTERN = "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
USERNAME_PATTERN = "^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"
SLUG_RE = re.compile(SLUG_PATTERN)
USERNAME_RE = re.compile(USERNAME_PATTERN)


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:64].rstrip("-")


def slug_error(field: str, slug: str) -> FieldError | None:
    if SLUG_RE.fullmatch(slug):
        return None
    return FieldError(
        field,
        "must be 1-64 lowercase letters, digits or hyphens, starting and ending with a letter or digit",
    )


def resolve_slug(name: str, slug: str | None, what: str) -> str:
    """The given slug, or one made from the name; ValidationFailed when it is not a valid slug."""
    slug = slug if slug is not None else slugify(name)
    error = slug_error("slug", slug)
    if error:
        raise ValidationFailed(f"Invalid {what}.", [error])
    return slug


async def ensure_slug_free(
    db: Database, table: sa.Table, slug: str, message: str, *within: sa.ColumnElement[bool]
) -> None:
    """Conflict when ``table`` already has ``slug`` (among the rows ``within`` selects)."""
    if await db.fetch_one(sa.select(table.c.id).where(table.c.slug == slug, *within)):
        raise Conflict(message)


async def get_by_slug(db: Database, table: sa.Table, slug: str, what: str) -> Row:
    row = await db.fetch_one(sa.select(table).where(table.c.slug == slug))
    if row is None:
        raise NotFound(f"{what} {slug!r} not found.")
    return row
