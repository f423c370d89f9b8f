"""Slugs and usernames: one rule each, shared by every service."""

from __future__ import annotations

import re
import uuid

from qarion_pypi.errors import FieldError

SLUG_RE = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")
USERNAME_RE = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?\Z")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:64].rstrip("-")


def slug_error(field: str, slug: str) -> FieldError | None:
    if SLUG_RE.match(slug):
        return None
    return FieldError(
        field,
        "must be 1-64 lowercase letters, digits or hyphens, starting and ending with a letter or digit",
    )


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
