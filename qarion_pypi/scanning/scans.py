"""Scans of distribution files: queued (on upload, by hand, for a whole repository), run on the
job queue, recorded per file.

A scan resolves the file's dependency tree for the policy's target with the resolver imports use,
reading the repository itself first, then the policy's extra indexes, then the public index if
allowed (the first index that has a project owns it). Every resolved release, and the file's own,
is matched against OSV. The file's row keeps its latest scan's state, and every state change
moves the repository's serial, so cached pages never outlive the enforcement they were built for.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from packaging.requirements import InvalidRequirement, Requirement

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest, Conflict, NotFound, QarionError
from qarion_pypi.jobs.queue import JobRecord, Progress
from qarion_pypi.osv.provider import OsvProvider, ProviderError
from qarion_pypi.osv.severity import rank
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import FileRecord, RepositoryKind, RepositoryRecord
from qarion_pypi.resolver.closure import Selection, resolve_requirements
from qarion_pypi.resolver.indexes import Index, LayeredIndex, RepositoryIndex, UpstreamIndex
from qarion_pypi.resolver.target import Target
from qarion_pypi.scanning import policy as policies
from qarion_pypi.services import audit
from qarion_pypi.services.accounts import users

log = logging.getLogger(__name__)

JOB_KIND = "vulnerability_scan"
IN_FLIGHT = ("pending", "running")
INTERRUPTED = "Interrupted: the server stopped before this scan finished; retry it."


# -- queuing ----------------------------------------------------------------------------------------


async def queue_on_upload(ctx: Context, principal: Principal, repository_id: str, file_id: str) -> JobRecord | None:
    """Inside the upload's transaction: a pending scan and its job, when scanning is active, so
    that no client ever sees the file before its scan is pending. Start the job after commit."""
    if not ctx.settings.scanning_enabled:  # never active then: no policy to read on every upload
        return None
    if not (await policies.enforcement(ctx, repository_id)).active:
        return None
    return await _add(ctx, principal, repository_id, [file_id], "upload")


async def queue_file(ctx: Context, principal: Principal, file: FileRecord, trigger: str) -> Row:
    """A manual or retried scan of one file; returns the pending scan."""
    await _require_active(ctx, file.repository_id)
    async with ctx.db.transaction():
        latest = await _latest(ctx, file.id)
        if latest is not None and latest["status"] in IN_FLIGHT:
            raise Conflict(f"A scan of {file.filename} is already {latest['status']}.")
        if trigger == "retry" and (latest is None or latest["status"] not in ("failed", "skipped")):
            raise Conflict(f"Only a failed or skipped scan can be retried; {file.filename} has none.")
        job = await _add(ctx, principal, file.repository_id, [file.id], trigger)
    await ctx.jobs.start(job)
    scan = await _latest(ctx, file.id)
    assert scan is not None
    return scan


async def queue_repository(ctx: Context, principal: Principal, repository: RepositoryRecord) -> tuple[str, int]:
    """Scans of every file of the repository not already being scanned: (job id, scan count)."""
    if repository.kind is not RepositoryKind.HOSTED:
        raise Conflict(f"Only hosted repositories hold files to scan; this one is a {repository.kind} repository.")
    await _require_active(ctx, repository.id)
    async with ctx.db.transaction():
        rows = await ctx.db.fetch_all(
            sa.select(t.files.c.id).where(
                t.files.c.repository_id == repository.id, t.files.c.scan_status.not_in(IN_FLIGHT)
            )
        )
        if not rows:
            raise Conflict("The repository has no files waiting for a scan.")
        job = await _add(ctx, principal, repository.id, [row["id"] for row in rows], "repository")
    await ctx.jobs.start(job)
    return job.id, len(rows)


async def _require_active(ctx: Context, repository_id: str) -> None:
    enforcement = await policies.enforcement(ctx, repository_id)
    if not ctx.settings.scanning_enabled:
        raise Conflict("Vulnerability scanning is turned off on this server ([scanning] enabled).")
    if not enforcement.active:
        raise Conflict("Vulnerability scanning is not enabled in this repository's scan policy.")


async def _add(ctx: Context, principal: Principal | None, repository_id: str, file_ids: list[str],
               trigger: str) -> JobRecord:  # fmt: skip
    """Pending scans and the job that runs them, in the caller's transaction."""
    created_by = principal.user_id if principal else None
    job = await ctx.jobs.add(JOB_KIND, {"trigger": trigger}, repository_id=repository_id, created_by_id=created_by)
    now = utcnow()
    for file_id in file_ids:
        await ctx.db.execute(
            t.file_scans.insert().values(
                id=new_id(), file_id=file_id, repository_id=repository_id, job_id=job.id, trigger=trigger,
                status="pending", targets=None, dependency_count=0, finding_count=0, max_severity=None,
                dependencies=[], findings=[], error_message=None, created_by_id=created_by, created_at=now,
            )
        )  # fmt: skip
    await ctx.db.execute(
        t.files.update()
        .where(t.files.c.id.in_(file_ids))
        .values(scan_status="pending", scan_max_severity=None, scan_finding_count=0)
    )
    await records.touch(ctx.db, repository_id, None)
    return job


async def fail_interrupted(ctx: Context) -> None:
    """At startup: scans whose job a stopped process left unfinished are failed, with a reason."""
    orphaned = await ctx.db.fetch_all(
        sa.select(t.file_scans.c.id, t.file_scans.c.file_id, t.file_scans.c.repository_id)
        .outerjoin(t.jobs, t.jobs.c.id == t.file_scans.c.job_id)
        .where(t.file_scans.c.status.in_(IN_FLIGHT), sa.or_(t.jobs.c.id.is_(None), t.jobs.c.status == "failed"))
    )
    for scan in orphaned:
        await _finish(ctx, scan, {"status": "failed", "error_message": INTERRUPTED})


# -- reading ----------------------------------------------------------------------------------------


async def latest(ctx: Context, file: FileRecord) -> Row:
    scan = await _latest(ctx, file.id)
    if scan is None:
        raise NotFound(f"{file.filename} has not been scanned.")
    return scan


async def _latest(ctx: Context, file_id: str) -> Row | None:
    return await ctx.db.fetch_one(
        sa.select(t.file_scans)
        .where(t.file_scans.c.file_id == file_id)
        .order_by(t.file_scans.c.created_at.desc(), t.file_scans.c.id.desc())
        .limit(1)
    )


# -- running ----------------------------------------------------------------------------------------


async def run_job(ctx: Context, job: JobRecord, progress: Progress) -> dict[str, Any]:
    pending = await ctx.db.fetch_all(
        sa.select(t.file_scans)
        .where(t.file_scans.c.job_id == job.id, t.file_scans.c.status == "pending")
        .order_by(t.file_scans.c.created_at, t.file_scans.c.id)
    )
    provider = OsvProvider(ctx.db, ctx.http.with_auth(None), ctx.settings.osv_api_url)
    counts = dict.fromkeys(("completed", "failed", "skipped"), 0)
    for index, scan in enumerate(pending):
        await progress.report(
            100 * index // max(len(pending), 1), "scanning", f"Scanning file {index + 1} of {len(pending)}."
        )
        status = await _scan(ctx, job, scan, provider)
        if status in counts:
            counts[status] += 1
    await progress.report(100, "completed", f"Scanned {len(pending)} files.")
    return {"scanned": len(pending), **counts}


async def _scan(ctx: Context, job: JobRecord, scan: Row, provider: OsvProvider) -> str | None:
    row = await ctx.db.fetch_one(records.file_query().where(t.files.c.id == scan["file_id"]))
    if row is None:  # deleted since it was queued; its scans went with it
        return None
    file = FileRecord.from_row(row)
    policy = await policies.get_policy(ctx, file.repository_id)
    if policies.enforcement_of(ctx, policy).active:
        await _set(ctx, scan, {"status": "running", "started_at": utcnow()})
        outcome = await _outcome(ctx, scan, file, policy, provider)
    else:
        outcome = {"status": "skipped", "error_message": "Scanning was turned off before this scan ran."}
    await _finish(ctx, scan, outcome)
    detail = f"{file.filename}: {outcome['status']}"
    if outcome["status"] == "completed":
        detail += f", {outcome['finding_count']} findings, max severity {outcome['max_severity'] or 'none'}"
    else:
        detail += f" ({outcome['error_message']})"
    actor = await users.principal_of(ctx, job.created_by_id)
    repository = await records.load(ctx.db, file.repository_id)
    event = audit.Event("scan", "file", file.id, repository.space_slug, 200, detail, file.filename)
    await audit.record(ctx, actor, event)
    return str(outcome["status"])


async def _outcome(ctx: Context, scan: Row, file: FileRecord, policy: policies.ScanPolicy,
                   provider: OsvProvider) -> dict[str, Any]:  # fmt: skip
    try:
        return await _analyse(ctx, file, policy, provider)
    except (QarionError, ProviderError) as exc:
        return {"status": "failed", "error_message": getattr(exc, "detail", None) or str(exc)}
    except Exception as exc:  # a scan must end with a reason, never stay "running"
        log.exception("scan %s of %s failed", scan["id"], file.filename)
        return {"status": "failed", "error_message": f"Unexpected error ({exc.__class__.__name__})."}


async def _analyse(
    ctx: Context, file: FileRecord, policy: policies.ScanPolicy, provider: OsvProvider
) -> dict[str, Any]:
    python = policy.target_python_version or policies.DEFAULT_PYTHON
    major, minor = python.split(".")
    target = Target((int(major), int(minor)), "cp", policy.target_platform or policies.DEFAULT_PLATFORM)
    repository = await records.load(ctx.db, file.repository_id)
    index = LayeredIndex(_layers(ctx, repository, policy))
    name = parse_dist_filename(file.filename).name
    try:
        releases = await resolve_requirements(
            _roots(file, target), target, Selection(True, True), index.pages, index.requirements, required_by=name
        )
    except Conflict as exc:
        raise Conflict(f"The dependencies of {file.filename} cannot be resolved: {exc.detail}") from None
    resolved = [release for release in releases if release.name != name]
    findings = list(await provider.findings(name, file.version))
    for release in resolved:
        findings += await provider.findings(release.name, str(release.version))
    dependencies = [
        {
            "name": release.name,
            "version": str(release.version),
            "required_by": release.required_by,
            "source": index.owners.get(release.name),
        }
        for release in resolved
    ]
    levels = [f["severity"] for f in findings if f["severity"]]
    return {
        "status": "completed",
        "targets": {
            "python_version": target.python_version,
            "platform": target.platform,
            "indexes": [layer.label for layer in index.layers],
        },
        "dependency_count": len(dependencies),
        "finding_count": len(findings),
        "max_severity": max(levels, key=rank) if levels else None,
        "dependencies": dependencies,
        "findings": findings,
        "error_message": None,
    }


def _layers(ctx: Context, repository: RepositoryRecord, policy: policies.ScanPolicy) -> list[Index]:
    layers: list[Index] = [RepositoryIndex(ctx, repository)]
    layers += [UpstreamIndex(ctx, url) for url in policy.extra_index_urls]
    if policy.include_public_index and (public := policies.public_index_url(ctx, policy)):
        layers.append(UpstreamIndex(ctx, public, "public index"))
    return layers


def _roots(file: FileRecord, target: Target) -> list[Requirement]:
    """The file's own requirements that apply on the target (no extras)."""
    roots = []
    for text in file.requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise BadRequest(f"{file.filename} has an invalid requirement: {text!r}") from None
        if requirement.marker is None or requirement.marker.evaluate({**target.environment, "extra": ""}):
            roots.append(requirement)
    return roots


async def _set(ctx: Context, scan: Row, values: dict[str, Any]) -> None:
    async with ctx.db.transaction():
        await ctx.db.execute(t.file_scans.update().where(t.file_scans.c.id == scan["id"]).values(**values))
        await ctx.db.execute(
            t.files.update().where(t.files.c.id == scan["file_id"]).values(scan_status=values["status"])
        )
        await records.touch(ctx.db, scan["repository_id"], None)


async def _finish(ctx: Context, scan: Row, outcome: dict[str, Any]) -> None:
    """The scan's result and the file's state, with a new serial, in one transaction."""
    async with ctx.db.transaction():
        await ctx.db.execute(
            t.file_scans.update().where(t.file_scans.c.id == scan["id"]).values(**outcome, finished_at=utcnow())
        )
        await ctx.db.execute(
            t.files.update()
            .where(t.files.c.id == scan["file_id"])
            .values(
                scan_status=outcome["status"],
                scan_max_severity=outcome.get("max_severity"),
                scan_finding_count=outcome.get("finding_count", 0),
            )
        )
        await records.touch(ctx.db, scan["repository_id"], None)
