"""Retention rules: which releases of a repository may go, decided by one plan for dry and real runs.

A rule selects releases (optionally only those whose version matches a regex, or only
pre-releases) and keeps the newest ``keep_latest`` of them per package and any younger than
``max_age_days``; the rest are planned for deletion. Retention removes whole releases, so every
planned release carries the warning that pinned installs of it will fail, and a package that
would lose its last release says so too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from packaging.version import InvalidVersion, Version

from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.jobs.queue import JobRecord, Progress
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import FileRecord, RepositoryRecord
from qarion_pypi.services import audit
from qarion_pypi.services.accounts import users
from qarion_pypi.services.catalog import files

JOB_KIND = "retention"


@dataclass(frozen=True)
class RunParams:
    """What a retention job was asked to do."""

    dry_run: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunParams:
        return cls(dry_run=bool(params.get("dry_run", True)))

    def as_params(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run}


@dataclass
class Release:
    package: str
    version: str
    files: list[FileRecord]
    rule: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def uploaded_at(self) -> datetime:
        """When the release last changed: a file added yesterday makes it young."""
        return max(f.created_at for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "rule": self.rule,
            "warnings": self.warnings,
            "files": [{"id": f.id, "filename": f.filename, "size": f.size} for f in self.files],
        }


def check_rules(rules: Sequence[Mapping[str, Any]]) -> None:
    """What the payload spec cannot say: a valid regex and at least one limit per rule."""
    errors = []
    for index, rule in enumerate(rules):
        if rule.get("max_age_days") is None and rule.get("keep_latest") is None:
            errors.append(FieldError(f"rules[{index}]", "needs max_age_days, keep_latest or both"))
        for name in ("max_age_days", "keep_latest"):
            if rule.get(name) is not None and rule[name] < 0:
                errors.append(FieldError(f"rules[{index}].{name}", "must be zero or more"))
        if rule.get("match_version_regex"):
            try:
                re.compile(rule["match_version_regex"])
            except re.error as exc:
                errors.append(FieldError(f"rules[{index}].match_version_regex", f"is not a valid regex: {exc}"))
    if errors:
        raise ValidationFailed("Invalid retention rules.", errors)


async def get_rules(ctx: Context, repository: RepositoryRecord) -> list[Row]:
    return await ctx.db.fetch_all(
        sa.select(t.retention_rules)
        .where(t.retention_rules.c.repository_id == repository.id)
        .order_by(t.retention_rules.c.position)
    )


async def replace_rules(ctx: Context, repository: RepositoryRecord, rules: Sequence[Mapping[str, Any]]) -> list[Row]:
    check_rules(rules)
    async with ctx.db.transaction():
        await ctx.db.execute(t.retention_rules.delete().where(t.retention_rules.c.repository_id == repository.id))
        for position, rule in enumerate(rules):
            await ctx.db.execute(
                t.retention_rules.insert().values(
                    id=new_id(), repository_id=repository.id, position=position, name=rule["name"],
                    match_version_regex=rule.get("match_version_regex"),
                    prereleases_only=rule.get("prereleases_only", False),
                    max_age_days=rule.get("max_age_days"), keep_latest=rule.get("keep_latest"),
                )
            )  # fmt: skip
    return await get_rules(ctx, repository)


async def plan(ctx: Context, repository: RepositoryRecord, now: datetime | None = None) -> list[Release]:
    now = now or utcnow()
    rows = await ctx.db.fetch_all(
        records.file_query()
        .add_columns(t.packages.c.normalized_name)
        .join(t.packages, t.packages.c.id == t.files.c.package_id)
        .where(t.files.c.repository_id == repository.id)
    )
    by_package: dict[str, dict[str, list[FileRecord]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_package[row["normalized_name"]][row["version"]].append(FileRecord.from_row(row))
    chosen: dict[tuple[str, str], Release] = {}
    for rule in await get_rules(ctx, repository):
        for package, releases in by_package.items():
            for release in _selected(rule, package, releases, now):
                chosen.setdefault((package, release.version), release)
    for (package, _), release in chosen.items():
        pin = f"{package}=={release.version}"
        release.warnings.append(
            f"Deletes every file of {package} {release.version}: pinned installs ({pin}) will fail."
        )
        if all((package, version) in chosen for version in by_package[package]):
            release.warnings.append(f"{package} would have no release left.")
    return sorted(chosen.values(), key=lambda r: (r.package, _key(r.version)))


def _selected(rule: Row, package: str, releases: dict[str, list[FileRecord]], now: datetime) -> list[Release]:
    pattern = re.compile(rule["match_version_regex"]) if rule["match_version_regex"] else None
    matching = [
        Release(package, version, filerows)
        for version, filerows in releases.items()
        if (pattern is None or pattern.search(version)) and (not rule["prereleases_only"] or _is_pre(version))
    ]
    matching.sort(key=lambda r: _key(r.version), reverse=True)
    selected = []
    for rank, release in enumerate(matching):
        if rule["keep_latest"] is not None and rank < rule["keep_latest"]:
            continue
        if rule["max_age_days"] is not None and now - release.uploaded_at < timedelta(days=rule["max_age_days"]):
            continue
        release.rule = rule["name"]
        selected.append(release)
    return selected


def _key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def _is_pre(version: str) -> bool:
    return _key(version).is_prerelease


async def run_job(ctx: Context, job: JobRecord, progress: Progress) -> dict[str, Any]:
    """The job handler: plan, and unless it is a dry run, delete the planned releases' files."""
    assert job.repository_id is not None
    repository = await records.load(ctx.db, job.repository_id)
    dry_run = RunParams.from_params(job.params).dry_run
    await progress.report(10, "planning", "Evaluating retention rules.")
    releases = await plan(ctx, repository)
    deleted = 0
    actor = await users.principal_of(ctx, job.created_by_id)  # the actor of what the job does
    if not dry_run:
        total = sum(len(r.files) for r in releases) or 1
        for release in releases:
            for file in release.files:
                await files.delete_file(ctx, None, file)
                deleted += 1
                detail = f"{file.filename} by rule {release.rule!r} (job {job.id})"
                event = audit.Event(
                    "retention_delete", "file", file.id, repository.space_slug, 200, detail, file.filename
                )
                await audit.record(ctx, actor, event)
            done = 10 + 90 * deleted // total
            await progress.report(done, "deleting", f"Deleted {release.package} {release.version}.")
    await progress.report(100, "completed", "Dry run: nothing was deleted." if dry_run else f"Deleted {deleted} files.")
    return {
        "dry_run": dry_run,
        "releases": [r.as_dict() for r in releases],
        "file_count": sum(len(r.files) for r in releases),
        "deleted_files": deleted,
    }
