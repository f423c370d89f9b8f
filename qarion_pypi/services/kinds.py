"""What makes a repository hosted, proxy or virtual, checked in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import Row, grouped
from qarion_pypi.db import tables as t
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.services.naming import is_uuid

KINDS = ("hosted", "proxy", "virtual")
FILE_MODES = ("stream", "redirect")
PROXY_FIELDS = ("remote_url", "cache_ttl", "file_mode", "upstream_username", "upstream_password")
VIRTUAL_FIELDS = ("members", "merge", "upload_target_id")


def columns(kind: str, fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The kind-specific columns ``fields`` set; 422 for fields of another kind or bad values."""
    errors = []
    foreign = (
        VIRTUAL_FIELDS if kind == "proxy" else PROXY_FIELDS if kind == "virtual" else PROXY_FIELDS + VIRTUAL_FIELDS
    )
    errors += [FieldError(name, f"only applies to {_kind_of(name)} repositories") for name in foreign if name in fields]
    values: dict[str, Any] = {}
    if kind == "proxy":
        values = {name: fields[name] for name in PROXY_FIELDS if name in fields}
        url = fields.get("remote_url")
        if creating and not url:
            errors.append(FieldError("remote_url", "is required for proxy repositories"))
        elif url is not None and not is_http_url(url):
            errors.append(FieldError("remote_url", "must be an http(s) URL of a Simple API index"))
        if values.get("cache_ttl") is not None and values["cache_ttl"] < 0:
            errors.append(FieldError("cache_ttl", "must be zero or more seconds"))
        if creating:
            values.setdefault("cache_ttl", 3600)
            values.setdefault("file_mode", "stream")
    if kind == "virtual":
        values = {name: fields[name] for name in ("merge", "upload_target_id") if name in fields}
        if creating and not fields.get("members"):
            errors.append(FieldError("members", "a virtual repository needs at least one member"))
    if errors:
        raise ValidationFailed("Invalid repository.", errors)
    return values


def _kind_of(name: str) -> str:
    return "proxy" if name in PROXY_FIELDS else "virtual"


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host: what every index URL setting must be."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


async def check_members(
    ctx: Context, space_id: str, virtual_id: str | None, member_ids: list[str], upload_target_id: str | None
) -> None:
    """Members: distinct hosted or proxy repositories of the same space; the upload target, hosted, among them."""
    errors = []
    if not all(isinstance(member, str) for member in member_ids):
        raise ValidationFailed(
            "Invalid repository members.", [FieldError("members", "must be a list of repository ids")]
        )
    if len(set(member_ids)) != len(member_ids):
        errors.append(FieldError("members", "lists a repository twice"))
    rows = {}
    valid_ids = [m for m in member_ids if is_uuid(m)]
    if valid_ids:
        found = await ctx.db.fetch_all(
            sa.select(t.repositories.c.id, t.repositories.c.kind).where(
                t.repositories.c.id.in_(valid_ids), t.repositories.c.space_id == space_id
            )
        )
        rows = {row["id"]: row for row in found}
    for index, member_id in enumerate(member_ids):
        row = rows.get(member_id)
        if row is None or member_id == virtual_id:
            errors.append(FieldError(f"members[{index}]", "is not a repository of this space"))
        elif row["kind"] == "virtual":
            errors.append(FieldError(f"members[{index}]", "a virtual repository cannot be a member"))
    if upload_target_id is not None:
        target = rows.get(upload_target_id)
        if upload_target_id not in member_ids or target is None or target["kind"] != "hosted":
            errors.append(FieldError("upload_target_id", "must be one of the hosted members"))
    if errors:
        raise ValidationFailed("Invalid repository members.", errors)


async def replace_members(ctx: Context, virtual_id: str, member_ids: list[str]) -> None:
    await ctx.db.execute(t.repository_members.delete().where(t.repository_members.c.virtual_id == virtual_id))
    for position, member_id in enumerate(member_ids):
        await ctx.db.execute(
            t.repository_members.insert().values(virtual_id=virtual_id, member_id=member_id, position=position)
        )


async def member_ids(ctx: Context, virtual_ids: list[str]) -> dict[str, list[str]]:
    if not virtual_ids:
        return {}
    rows = await ctx.db.fetch_all(
        sa.select(t.repository_members)
        .where(t.repository_members.c.virtual_id.in_(virtual_ids))
        .order_by(t.repository_members.c.position)
    )
    return grouped(rows, virtual_ids, "virtual_id", "member_id")


def refusal_for_upload(repository: Row) -> str | None:
    if repository["kind"] == "proxy":
        return f"Repository {repository['slug']!r} is a proxy of another index and does not accept uploads."
    if repository["kind"] == "virtual" and not repository["upload_target_id"]:
        return f"Repository {repository['slug']!r} is virtual and names no upload target."
    return None
