"""Trusted publishers of a repository, and which of them a verified OIDC token's claims match.

- ``github``: ``repository`` (owner/name, as GitHub compares it: case-insensitively) and
  ``workflow`` (the workflow file's name, read from ``job_workflow_ref``), optionally
  ``environment``.
- ``gitlab``: ``project_path`` and ``ci_config_path`` (the file path in ``ci_config_ref_uri``),
  optionally ``environment``.
- ``oidc``: every listed claim equal, exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid, new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, FieldError, NotFound, ValidationFailed
from qarion_pypi.repositories.records import RepositoryKind, RepositoryRecord

# kind -> (required claims, optional claims)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "github": (("repository", "workflow"), ("environment",)),
    "gitlab": (("project_path", "ci_config_path"), ("environment",)),
    "oidc": ((), ()),
}
_MAX_CLAIMS = 20


def check(ctx: Context, kind: str, issuer: str, claims: Mapping[str, Any]) -> dict[str, str]:
    """The publisher's claims, checked for its kind and the platform's issuers (422 otherwise)."""
    errors = []
    if issuer not in ctx.settings.oidc_issuers:
        allowed = ", ".join(ctx.settings.oidc_issuers) or "none are configured ([oidc] issuers)"
        errors.append(FieldError("issuer", f"is not an issuer this server trusts: {allowed}"))
    required, optional = KINDS[kind]
    for name in required:
        if not claims.get(name):
            errors.append(FieldError(f"claims.{name}", f"is required for a {kind} publisher"))
    if kind != "oidc":
        errors += [FieldError(f"claims.{name}", f"is not a {kind} publisher's claim")
                   for name in claims if name not in required + optional]  # fmt: skip
    elif not claims or len(claims) > _MAX_CLAIMS:
        errors.append(FieldError("claims", f"must list 1 to {_MAX_CLAIMS} claims to match"))
    errors += [FieldError(f"claims.{name}", "must be a non-empty string") for name, value in claims.items()
               if not isinstance(value, str) or not value or len(value) > 500]  # fmt: skip
    if errors:
        raise ValidationFailed("Invalid trusted publisher.", errors)
    return dict(claims)


async def add(ctx: Context, principal: Principal, repository: RepositoryRecord, kind: str, issuer: str,
              claims: Mapping[str, Any]) -> Row:  # fmt: skip
    if repository.kind is RepositoryKind.PROXY:
        raise Conflict("A proxy repository takes no uploads, so it has no publishers.")
    row = {
        "id": new_id(), "repository_id": repository.id, "kind": kind, "issuer": issuer,
        "claims": check(ctx, kind, issuer, claims), "created_at": utcnow(), "created_by_id": principal.user_id,
    }  # fmt: skip
    async with ctx.db.transaction():
        for existing in await list_for(ctx, repository):
            if (existing["kind"], existing["issuer"], existing["claims"]) == (kind, issuer, row["claims"]):
                raise Conflict("This repository already trusts that publisher.")
        await ctx.db.execute(t.trusted_publishers.insert().values(**row))
    return row


async def list_for(ctx: Context, repository: RepositoryRecord) -> list[Row]:
    return await ctx.db.fetch_all(
        sa.select(t.trusted_publishers)
        .where(t.trusted_publishers.c.repository_id == repository.id)
        .order_by(t.trusted_publishers.c.created_at)
    )


async def remove(ctx: Context, repository: RepositoryRecord, publisher_id: str) -> Row:
    row = None
    if is_uuid(publisher_id):
        row = await ctx.db.fetch_one(
            sa.select(t.trusted_publishers).where(
                t.trusted_publishers.c.id == publisher_id, t.trusted_publishers.c.repository_id == repository.id
            )
        )
    if row is None:
        raise NotFound("Trusted publisher not found.")
    await ctx.db.execute(t.trusted_publishers.delete().where(t.trusted_publishers.c.id == publisher_id))
    return row


def matches(publisher: Row, claims: Mapping[str, Any]) -> bool:
    wanted: dict[str, str] = publisher["claims"]
    kind = publisher["kind"]
    if kind == "github":
        return _github(wanted, claims)
    if kind == "gitlab":
        return _gitlab(wanted, claims)
    return all(claims.get(name) == value for name, value in wanted.items())


def _environment(wanted: Mapping[str, str], claims: Mapping[str, Any]) -> bool:
    return "environment" not in wanted or claims.get("environment") == wanted["environment"]


def _github(wanted: Mapping[str, str], claims: Mapping[str, Any]) -> bool:
    repository = claims.get("repository")
    if not isinstance(repository, str) or repository.lower() != wanted["repository"].lower():
        return False
    # job_workflow_ref: "owner/repo/.github/workflows/release.yml@refs/heads/main"
    reference = claims.get("job_workflow_ref") or claims.get("workflow_ref")
    if not isinstance(reference, str):
        return False
    path = reference.split("@", 1)[0]
    prefix = f"{repository}/.github/workflows/"
    return path.lower().startswith(prefix.lower()) and path[len(prefix):] == wanted["workflow"] and \
        _environment(wanted, claims)  # fmt: skip


def _gitlab(wanted: Mapping[str, str], claims: Mapping[str, Any]) -> bool:
    if claims.get("project_path") != wanted["project_path"]:
        return False
    # ci_config_ref_uri: "gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main"
    reference = claims.get("ci_config_ref_uri")
    if not isinstance(reference, str) or "//" not in reference:
        return False
    path = reference.split("//", 1)[1].split("@", 1)[0]
    return path == wanted["ci_config_path"] and _environment(wanted, claims)


async def matching(ctx: Context, issuer: str, claims: Mapping[str, Any]) -> list[Row]:
    """Every trusted publisher of this issuer, in any repository, that the claims match."""
    rows = await ctx.db.fetch_all(sa.select(t.trusted_publishers).where(t.trusted_publishers.c.issuer == issuer))
    return [row for row in rows if matches(row, claims)]
