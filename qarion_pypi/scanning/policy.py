"""A repository's scan policy, and the one decision made from it: is this file blocked?

Scanning is active for a repository only when the platform switch (``[scanning] enabled``) is on
and the policy is enabled; when it is not, nothing is queued and nothing is hidden. Blocking
applies to package clients only (simple pages, downloads, metadata), and only under
``block_by_threshold``: a completed scan whose highest severity reaches the threshold blocks its
file, as do pending or running scans with ``block_pending`` and failed ones with ``block_failed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.osv.severity import rank
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import FileRecord, RepositoryRecord
from qarion_pypi.resolver.target import known_platform
from qarion_pypi.upstream.urls import index_url_problem

PROVIDERS = ("osv",)
ENFORCEMENT_MODES = ("report_only", "block_by_threshold")
MAX_EXTRA_INDEXES = 10
MAX_URL_LENGTH = 1000
# The resolver's target when the policy names none: a common server.
DEFAULT_PYTHON = "3.12"
DEFAULT_PLATFORM = "manylinux_2_17_x86_64"
_PYTHON = re.compile(r"^3\.\d{1,2}$")


@dataclass(frozen=True)
class ScanPolicy:
    enabled: bool = False
    provider: str = "osv"
    target_python_version: str | None = None
    target_platform: str | None = None
    include_public_index: bool = False
    public_index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    enforcement_mode: str = "report_only"
    severity_threshold: str = "high"
    block_pending: bool = False
    block_failed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELDS = tuple(ScanPolicy.__dataclass_fields__)


@dataclass(frozen=True)
class Enforcement:
    policy: ScanPolicy
    active: bool  # the platform switch and the policy are both on

    @property
    def can_block(self) -> bool:
        return self.active and self.policy.enforcement_mode == "block_by_threshold"

    def reason(self, status: str, max_severity: str | None) -> str | None:
        """Why a file in this state is hidden from package clients, or None."""
        policy = self.policy
        if not self.can_block:
            return None
        if status in ("pending", "running") and policy.block_pending:
            return "its vulnerability scan has not finished"
        if status == "failed" and policy.block_failed:
            return "its vulnerability scan failed"
        if status == "completed" and max_severity and rank(max_severity) >= rank(policy.severity_threshold):
            return f"a {max_severity} vulnerability reaches the {policy.severity_threshold} threshold"
        return None

    def file_reason(self, file: FileRecord) -> str | None:
        return self.reason(file.scan_status, file.scan_max_severity)

    def as_dict(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "active": self.active,
            "enforcement_mode": policy.enforcement_mode,
            "severity_threshold": policy.severity_threshold,
            "block_pending": policy.block_pending,
            "block_failed": policy.block_failed,
        }


def _from_row(row: Row | None) -> ScanPolicy:
    if row is None:
        return ScanPolicy()
    return ScanPolicy(**{name: row[name] for name in FIELDS})


async def policies(ctx: Context, repository_ids: list[str]) -> dict[str, ScanPolicy]:
    rows = await ctx.db.fetch_all(
        sa.select(t.scan_policies).where(t.scan_policies.c.repository_id.in_(repository_ids))
    ) if repository_ids else []  # fmt: skip
    found = {row["repository_id"]: _from_row(row) for row in rows}
    return {repository_id: found.get(repository_id, ScanPolicy()) for repository_id in repository_ids}


_POLICY = sa.select(t.scan_policies).where(t.scan_policies.c.repository_id == sa.bindparam("repository_id"))


async def get_policy(ctx: Context, repository_id: str) -> ScanPolicy:
    return _from_row(await ctx.db.fetch_one(_POLICY, {"repository_id": repository_id}, quick=True))


def enforcement_of(ctx: Context, policy: ScanPolicy) -> Enforcement:
    return Enforcement(policy, ctx.settings.scanning_enabled and policy.enabled)


async def enforcement(ctx: Context, repository_id: str) -> Enforcement:
    return enforcement_of(ctx, await get_policy(ctx, repository_id))


async def update_policy(
    ctx: Context, principal: Principal, repository: RepositoryRecord, changes: Mapping[str, Any]
) -> ScanPolicy:
    """Apply a PATCH (fields already type-checked); every rule broken is reported at once.

    The repository's serial moves, so pages rendered under the old enforcement are not served.
    """
    async with ctx.db.transaction():
        current = await get_policy(ctx, repository.id)
        updated = replace(current, **changes)
        _check(ctx, updated)
        values = {**updated.as_dict(), "updated_at": utcnow(), "updated_by_id": principal.user_id}
        where = t.scan_policies.c.repository_id == repository.id
        if await ctx.db.fetch_one(sa.select(t.scan_policies.c.repository_id).where(where)):
            await ctx.db.execute(t.scan_policies.update().where(where).values(**values))
        else:
            await ctx.db.execute(t.scan_policies.insert().values(repository_id=repository.id, **values))
        await records.touch(ctx.db, repository.id, principal.user_id)
    return updated


def public_index_url(ctx: Context, policy: ScanPolicy) -> str:
    """The public index the resolver may use: the policy's, else the configured upstream."""
    return policy.public_index_url or ctx.settings.upstream_index_url


def _check(ctx: Context, policy: ScanPolicy) -> None:
    errors = []
    python = policy.target_python_version
    if python is not None and not _PYTHON.match(python):
        errors.append(FieldError("target_python_version", "must be a CPython 3 version such as 3.11"))
    if policy.target_platform is not None and not known_platform(policy.target_platform):
        errors.append(
            FieldError("target_platform", "must be a wheel platform tag such as manylinux_2_17_x86_64 or any")
        )
    if policy.public_index_url is not None and (problem := _url_problem(policy.public_index_url)):
        errors.append(FieldError("public_index_url", problem))
    if len(policy.extra_index_urls) > MAX_EXTRA_INDEXES:
        errors.append(FieldError("extra_index_urls", f"must list at most {MAX_EXTRA_INDEXES} indexes"))
    for index, url in enumerate(policy.extra_index_urls):
        if problem := _url_problem(url):
            errors.append(FieldError(f"extra_index_urls[{index}]", problem))
    if policy.include_public_index and not public_index_url(ctx, policy):
        errors.append(
            FieldError("include_public_index", "needs public_index_url, or an [upstream] index_url in the config")
        )
    if errors:
        raise ValidationFailed("Invalid scan policy.", errors)


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if problem := index_url_problem(url):
        return problem
    parts = urlsplit(url)
    if parts.username or parts.password:
        return "must not carry credentials (extra indexes are read without authentication)"
    return None
