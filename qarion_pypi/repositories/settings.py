"""The settings each kind of repository takes, checked in one place on create and update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.sealing import Sealer, is_sealed
from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.repositories import cooldown
from qarion_pypi.repositories.records import DEFAULT_CACHE_TTL, Cooldown, FileMode, RepositoryKind
from qarion_pypi.upstream.urls import index_url_problem, split_credentials

KINDS = tuple(kind.value for kind in RepositoryKind)
FILE_MODES = tuple(mode.value for mode in FileMode)
FIELDS: dict[RepositoryKind, tuple[str, ...]] = {
    RepositoryKind.HOSTED: ("require_attestations",),
    RepositoryKind.PROXY: ("remote_url", "cache_ttl", "file_mode", "upstream_username", "upstream_password"),
    RepositoryKind.VIRTUAL: ("members", "merge", "upload_target_id"),
}
ALL_FIELDS = tuple(name for names in FIELDS.values() for name in names)


def columns(
    kind: RepositoryKind, fields: Mapping[str, Any], *, creating: bool, cooldown_now: Cooldown | None = None
) -> dict[str, Any]:
    """The kind-specific columns ``fields`` set; 422 for fields of another kind or bad values.
    ``cooldown_now``: the repository's cooldown, which the cooldown fields given change."""
    errors = [
        FieldError(name, f"only applies to {_kind_of(name)} repositories")
        for name in ALL_FIELDS
        if name in fields and name not in FIELDS[kind]
    ]
    values: dict[str, Any] = {}
    cooling, problems = cooldown.settings(fields, cooldown_now)
    if kind is RepositoryKind.HOSTED:
        problems = [
            FieldError(n, "only applies to proxy and virtual repositories") for n in cooldown.FIELDS if n in fields
        ]
    errors += problems
    if kind is RepositoryKind.HOSTED:
        values = {name: fields[name] for name in FIELDS[kind] if name in fields}
    if kind is RepositoryKind.PROXY:
        values = {name: fields[name] for name in FIELDS[kind] if name in fields}
        errors += _proxy_errors(values, creating=creating)
        errors += _move_credentials(values)
        if creating:
            values.setdefault("cache_ttl", DEFAULT_CACHE_TTL)
            values.setdefault("file_mode", FileMode.STREAM.value)
    if kind is RepositoryKind.VIRTUAL:
        values = {name: fields[name] for name in ("merge", "upload_target_id") if name in fields}
        if creating and not fields.get("members"):
            errors.append(FieldError("members", "a virtual repository needs at least one member"))
    if errors:
        raise ValidationFailed("Invalid repository.", errors)
    if cooling is not None and kind is not RepositoryKind.HOSTED:
        values["cooldown"] = cooling
    return values


def _proxy_errors(values: Mapping[str, Any], *, creating: bool) -> list[FieldError]:
    errors = []
    url = values.get("remote_url")
    if creating and not url:
        errors.append(FieldError("remote_url", "is required for proxy repositories"))
    elif url is not None and (problem := index_url_problem(url)):
        errors.append(FieldError("remote_url", problem))
    if values.get("cache_ttl") is not None and values["cache_ttl"] < 0:
        errors.append(FieldError("cache_ttl", "must be zero or more seconds"))
    return errors


def _move_credentials(values: dict[str, Any]) -> list[FieldError]:
    """Credentials written into ``remote_url`` become the upstream credentials: a URL is shown to
    every viewer, a password never is."""
    url = values.get("remote_url")
    if not url or index_url_problem(url):
        return []
    bare, username, password = split_credentials(url)
    if username is None and password is None:
        return []
    if values.get("upstream_username") or values.get("upstream_password"):
        return [FieldError("remote_url", "carries credentials and upstream_username/upstream_password are given too")]
    values.update(remote_url=bare, upstream_username=username or "", upstream_password=password)
    return []


async def move_stored_credentials(db: Database) -> None:
    """Schema 3: proxies stored before it may carry credentials in ``remote_url``."""
    rows = await db.fetch_all(
        sa.select(t.repositories.c.id, t.repositories.c.remote_url, t.repositories.c.upstream_username).where(
            t.repositories.c.remote_url.is_not(None)
        )
    )
    for row in rows:
        bare, username, password = split_credentials(row["remote_url"])
        if bare == row["remote_url"]:
            continue
        values: dict[str, Any] = {"remote_url": bare}
        if not row["upstream_username"]:
            values.update(upstream_username=username or "", upstream_password=password)
        await db.execute(t.repositories.update().where(t.repositories.c.id == row["id"]).values(**values))


async def seal_stored_credentials(db: Database, sealer: Sealer) -> None:
    """Upstream passwords stored in clear (before sealing) are sealed."""
    rows = await db.fetch_all(
        sa.select(t.repositories.c.id, t.repositories.c.upstream_password).where(
            t.repositories.c.upstream_password.is_not(None), t.repositories.c.upstream_password != ""
        )
    )
    for row in rows:
        if not is_sealed(row["upstream_password"]):
            sealed = sealer.seal(row["upstream_password"])
            await db.execute(
                t.repositories.update().where(t.repositories.c.id == row["id"]).values(upstream_password=sealed)
            )


def seal_password(values: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """Kind columns about to be stored, with an upstream password sealed."""
    if values.get("upstream_password"):
        return {**values, "upstream_password": sealer.seal(values["upstream_password"])}
    return values


def _kind_of(name: str) -> str:
    return next(kind.value for kind, names in FIELDS.items() if name in names)


async def check_members(
    db: Database, space_id: str, virtual_id: str | None, member_ids: list[str], upload_target_id: str | None
) -> None:
    """Members: distinct hosted or proxy repositories of the same space; the upload target, hosted, among them."""
    errors = []
    if not all(isinstance(member, str) for member in member_ids):
        raise ValidationFailed(
            "Invalid repository members.", [FieldError("members", "must be a list of repository ids")]
        )
    if len(set(member_ids)) != len(member_ids):
        errors.append(FieldError("members", "lists a repository twice"))
    kinds = {}
    valid_ids = [m for m in member_ids if is_uuid(m)]
    if valid_ids:
        found = await db.fetch_all(
            sa.select(t.repositories.c.id, t.repositories.c.kind).where(
                t.repositories.c.id.in_(valid_ids), t.repositories.c.space_id == space_id
            )
        )
        kinds = {row["id"]: RepositoryKind(row["kind"]) for row in found}
    for index, member_id in enumerate(member_ids):
        kind = kinds.get(member_id)
        if kind is None or member_id == virtual_id:
            errors.append(FieldError(f"members[{index}]", "is not a repository of this space"))
        elif kind is RepositoryKind.VIRTUAL:
            errors.append(FieldError(f"members[{index}]", "a virtual repository cannot be a member"))
    if upload_target_id is not None and (
        upload_target_id not in member_ids or kinds.get(upload_target_id) is not RepositoryKind.HOSTED
    ):
        errors.append(FieldError("upload_target_id", "must be one of the hosted members"))
    if errors:
        raise ValidationFailed("Invalid repository members.", errors)


async def replace_members(db: Database, virtual_id: str, member_ids: list[str]) -> None:
    await db.execute(t.repository_members.delete().where(t.repository_members.c.virtual_id == virtual_id))
    for position, member_id in enumerate(member_ids):
        await db.execute(
            t.repository_members.insert().values(virtual_id=virtual_id, member_id=member_id, position=position)
        )
