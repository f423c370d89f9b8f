"""Promotion: a release, or chosen files of it, copied from one hosted repository to another
(``staging`` to ``prod``), all files or none.

A promoted file shares its blob with the source, keeps its upload time, uploader, hashes,
metadata and PEP 740 provenance, and records where it came from (``promoted_from``). The target
applies the rules of an upload: a filename with other bytes already there is a conflict, as are
the same bytes under another name, a reused filename, a second sdist or a twin wheel of the
release, and a package that takes no uploads. Files already promoted (same name, same bytes) are
reported and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from packaging.version import InvalidVersion, Version

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import Conflict, FieldError, NotFound, ValidationFailed
from qarion_pypi.jobs.queue import JobRecord
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import FileRecord, RepositoryRecord
from qarion_pypi.scanning import scans
from qarion_pypi.services.catalog import packages, uploads

MAX_FILENAMES = 200


@dataclass
class Promotion:
    package: str
    version: str
    promoted: list[FileRecord] = field(default_factory=list)
    already_there: list[FileRecord] = field(default_factory=list)


def _release(files: list[FileRecord], version: str) -> list[FileRecord]:
    try:
        wanted = Version(version)
    except InvalidVersion:
        raise ValidationFailed("Invalid promotion.", [FieldError("version", "is not a valid version")]) from None
    return [f for f in files if Version(f.version) == wanted]


def _chosen(release: list[FileRecord], filenames: list[str] | None) -> list[FileRecord]:
    if filenames is None:
        return release
    known = {f.filename: f for f in release}
    unknown = [name for name in filenames if name not in known]
    if unknown:
        errors = [FieldError("filenames", f"{name!r} is not a file of this release") for name in unknown]
        raise ValidationFailed("Invalid promotion.", errors)
    return [known[name] for name in dict.fromkeys(filenames)]


async def promote(
    ctx: Context,
    principal: Principal,
    source: RepositoryRecord,
    target: RepositoryRecord,
    name: str,
    version: str,
    filenames: list[str] | None = None,
) -> Promotion:
    """Copy the release (or ``filenames`` of it) from ``source`` to ``target``; the caller has
    checked view on the source and publish on the target."""
    if target.id == source.id:
        raise Conflict("A release is promoted to another repository.")
    refusal = target.upload_refusal()
    if refusal:
        raise Conflict(refusal)
    view = await packages.get_package(ctx, source, name)
    release = _release(view.files, version)
    if not release:
        raise NotFound(f"Release {view.package['name']} {version} not found.")
    chosen = _chosen(release, filenames)
    done = Promotion(view.package["name"], release[0].version)
    jobs: list[JobRecord] = []
    async with ctx.db.transaction():
        await ctx.db.lock("project", target.id, view.package["normalized_name"])
        package = await uploads.get_or_create_package(
            ctx, target.id, view.package["name"], view.package["normalized_name"], view.package["summary"]
        )
        status_refusal = packages.upload_refusal(package)
        if status_refusal:
            raise Conflict(status_refusal)
        for file in chosen:
            await ctx.db.lock("blob", file.sha256)  # the blob gains a reference: no release may race it
            copied, created = await _copy(ctx, principal, source, target, package["id"], file)
            (done.promoted if created else done.already_there).append(copied)
        if done.promoted:
            await records.touch(ctx.db, target.id, principal.user_id)
        for file in done.promoted:
            job = await scans.queue_on_upload(ctx, principal, target.id, file.id)
            if job is not None:
                jobs.append(job)
    for job in jobs:
        await ctx.jobs.start(job)
    return done


async def _copy(
    ctx: Context, principal: Principal, source: RepositoryRecord, target: RepositoryRecord, package_id: str,
    file: FileRecord,
) -> tuple[FileRecord, bool]:  # fmt: skip
    """The file's copy in ``target``, and whether it is new (False: it was there, same bytes)."""
    named, other = await uploads.clashing_files(ctx, target.id, file.filename, file.sha256)
    if named is not None:
        if named.sha256 != file.sha256:
            raise Conflict(
                f"File already exists in {target.slug!r} ('{file.filename}') with other contents "
                f"(sha256 {named.sha256}); a file's contents never change."
            )
        return named, False
    if other is not None:
        raise Conflict(f"The same contents are in {target.slug!r} already, as '{other.filename}'.")
    await uploads.check_state(ctx, target.id, parse_dist_filename(file.filename))
    row: dict[str, Any] = dict(await ctx.db.fetch_one(sa.select(t.files).where(t.files.c.id == file.id)) or {})
    now = utcnow()
    row.update(
        id=new_id(), repository_id=target.id, package_id=package_id, source="promotion",
        promoted_from={"repository_id": source.id, "repository": source.slug, "space": source.space_slug,
                       "file_id": file.id, "promoted_by": principal.username, "promoted_at": now.isoformat()},
        scan_status="not_scanned", scan_max_severity=None, scan_finding_count=0,
    )  # fmt: skip
    await ctx.db.execute(t.files.insert().values(**row))
    await ctx.db.execute(
        t.filename_registry.insert().values(repository_id=target.id, filename=file.filename, created_at=now)
    )
    provenance = await ctx.db.fetch_val(
        sa.select(t.file_provenance.c.provenance).where(t.file_provenance.c.file_id == file.id)
    )
    if provenance is not None:
        await ctx.db.execute(t.file_provenance.insert().values(file_id=row["id"], provenance=provenance))
    return FileRecord.from_row({**row, "uploaded_by": file.uploaded_by}), True
