"""The one upload service behind both doors (twine's legacy API and the management API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.auth.principal import PUBLISHER, Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.database import Database
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.distributions import rules
from qarion_pypi.distributions.archives import ArchiveLimits, quick_to_read, read_core_metadata
from qarion_pypi.distributions.filenames import DistFilename, canonical_version, parse_dist_filename
from qarion_pypi.distributions.metadata import CoreMetadata, parse_core_metadata
from qarion_pypi.errors import BadRequest, Conflict
from qarion_pypi.jobs.queue import JobRecord
from qarion_pypi.repositories import core_metadata, placement, records
from qarion_pypi.repositories.records import FileRecord, RepositoryKind, RepositoryRecord
from qarion_pypi.scanning import scans
from qarion_pypi.services.catalog import packages
from qarion_pypi.services.publishing import attestations
from qarion_pypi.storage import Digests, IncomingBlob


@dataclass
class Upload:
    """What arrived: the text fields, the file part's name and its staging blob, finished or not
    (None when the request carried no file)."""

    form: Mapping[str, str]
    filename: str
    blob: IncomingBlob | None
    legacy: bool
    # for imports: source="import", upstream_url, upstream_upload_time, upstream_sha256
    provenance: Mapping[str, object] | None = None
    content_type: str | None = None  # what the file part was sent as
    # Called with the new file's id inside the transaction that records it (the audit row).
    on_recorded: Callable[[str], Awaitable[None]] | None = None


@dataclass(frozen=True)
class UploadOutcome:
    created: bool
    package: Row
    file: FileRecord


async def target(ctx: Context, principal: Principal, repository: RepositoryRecord) -> RepositoryRecord:
    """Where an upload to ``repository`` lands: itself when hosted, or a virtual repository's
    hosted upload target, on which the caller needs publish access too. 409 names why a
    repository takes no uploads."""
    refusal = repository.upload_refusal()
    if refusal:
        raise Conflict(refusal)
    if repository.kind is RepositoryKind.HOSTED:
        return repository
    assert repository.virtual is not None and repository.virtual.upload_target_id is not None
    hosted = await records.load(ctx.db, repository.virtual.upload_target_id)
    # A key (or minted token) limited to the virtual repository reaches its upload target too.
    reached = repository.id if repository.id in (principal.repository_ids or ()) else hosted.id
    held = await effective_permission(ctx.db, principal, hosted.space_id, hosted.project_scope_id, reached)
    require(held, Permission.PUBLISH, "publish", "repository")
    return hosted


async def accept(ctx: Context, principal: Principal, repository: RepositoryRecord, upload: Upload) -> UploadOutcome:
    """Validate an upload to a hosted repository completely, then record it; nothing is kept
    when a check fails."""
    refusal = repository.upload_refusal()
    if refusal:
        raise Conflict(refusal)
    if upload.legacy:  # the envelope first: a registration has no file, and gets a clear answer
        rules.check_legacy_action(upload.form)
    attested = attestations.parse(upload.form.get("attestations"))
    blob = upload.blob
    if blob is None:
        raise BadRequest("Upload payload does not have a file.")
    dist = parse_dist_filename(upload.filename)
    rules.check_content_type(upload.content_type)
    if upload.legacy:
        rules.check_form_against_filename(upload.form, dist)
    digests = await blob.finish()
    rules.check_size(digests.size, ctx.settings.max_upload_bytes)
    rules.check_digests(upload.form, digests)
    metadata = await _read_metadata(ctx, blob, dist)
    rules.check_metadata_against_filename(metadata, dist)
    rules.check_metadata_rules(metadata)
    verified = await attestations.verify(ctx, repository, dist.filename, digests.sha256, attested)
    return await _record(ctx, principal, repository, upload, blob, dist, metadata, verified)


async def _read_metadata(ctx: Context, blob: IncomingBlob, dist: DistFilename) -> CoreMetadata:
    """The finished blob's core metadata, read and parsed: on the event loop when it is a small
    wheel still in memory (``quick_to_read``), else in a worker thread."""
    limits = ArchiveLimits.of(ctx.settings)

    def read_and_parse(source: Path | BinaryIO) -> CoreMetadata:
        return parse_core_metadata(read_core_metadata(source, dist, limits))

    return await blob.read(read_and_parse, quick=lambda data: quick_to_read(data, dist))


async def _record(
    ctx: Context,
    principal: Principal,
    repository: RepositoryRecord,
    upload: Upload,
    blob: IncomingBlob,
    dist: DistFilename,
    metadata: CoreMetadata,
    verified: attestations.Verified | None = None,
) -> UploadOutcome:
    digests = blob.digests
    assert digests is not None
    # Already there, before anything is placed (twine --skip-existing sends a release again).
    # Only that is decided here: the checks that refuse read several statements, and without the
    # locks below another upload's commit can fall between them (its registry row seen, its file
    # not), so they are made under the locks only.
    existing, _ = await clashing_files(ctx, repository.id, dist.filename, digests.sha256)
    if existing is not None and existing.sha256 == digests.sha256:
        return await _kept(ctx, existing)
    scan_job: JobRecord | None = None
    # The blob is written and fsynced before the transaction: the write lock covers rows only.
    async with placement.placed(ctx, blob) as claim, ctx.db.transaction():
        # Uploads of one project, and of the same bytes, take turns (replicas included): the
        # checks below then see every upload that came first.
        await ctx.db.lock("project", repository.id, metadata.normalized_name)
        await ctx.db.lock("blob", digests.sha256)
        outcome = await _settled_already(ctx, repository.id, dist, digests.sha256)
        if outcome is not None:
            return outcome
        package = await get_or_create_package(
            ctx, repository.id, metadata.name, metadata.normalized_name, metadata.summary
        )
        status_refusal = packages.upload_refusal(package)
        if status_refusal:
            raise BadRequest(status_refusal)
        metadata_sha256 = await core_metadata.store(ctx.db, metadata.raw)
        file_row = _file_row(repository, package, principal, dist, digests, metadata, metadata_sha256)
        file_row["storage_backend"] = ctx.blobs.name
        file_row["publisher"] = await _publisher_of(ctx, principal)
        file_row["attested_by"] = verified.publisher if verified else None
        file_row.update(upload.provenance or {})
        await ctx.db.insert(t.files, file_row)
        if verified is not None:
            await ctx.db.execute(
                t.file_provenance.insert().values(file_id=file_row["id"], provenance=verified.provenance)
            )
        await ctx.db.insert(
            t.filename_registry,
            {"repository_id": repository.id, "filename": dist.filename, "created_at": file_row["created_at"]},
        )
        await records.touch(ctx.db, repository.id, principal.user_id)
        await claim.settle(ctx.db)
        scan_job = await scans.queue_on_upload(ctx, principal, repository.id, str(file_row["id"]))
        if scan_job is not None:
            file_row["scan_status"] = "pending"
        if upload.on_recorded is not None:
            await upload.on_recorded(str(file_row["id"]))
    if scan_job is not None:
        await ctx.jobs.start(scan_job)
    ctx.metrics.uploads.inc()
    ctx.metrics.upload_bytes.inc(digests.size)
    file = FileRecord.from_row({**file_row, "uploaded_by": principal.username})
    return UploadOutcome(created=True, package=package, file=file)


async def _settled_already(ctx: Context, repository_id: str, dist: DistFilename, sha256: str) -> UploadOutcome | None:
    """The outcome when this exact file is already there (nothing to do); refuses a clash with
    what the repository holds or once held; None for an upload to record."""
    existing, same_bytes = await clashing_files(ctx, repository_id, dist.filename, sha256)
    if existing is not None:
        if existing.sha256 != sha256:
            raise BadRequest(
                f"File already exists ('{dist.filename}', with sha256 hash "
                f"'{existing.sha256}'). A file's contents can never change; "
                "upload a new version instead."
            )
        return await _kept(ctx, existing)
    if same_bytes is not None:
        raise BadRequest(
            f"File already exists ('{dist.filename}', with sha256 hash '{sha256}'): "
            f"the same contents were uploaded as '{same_bytes.filename}'."
        )
    await check_state(ctx, repository_id, dist)
    return None


async def _kept(ctx: Context, existing: FileRecord) -> UploadOutcome:
    """The outcome of an upload of a file that is there already, with these very bytes."""
    package = await ctx.db.fetch_one(_PACKAGE, {"package_id": existing.package_id}, quick=True)
    assert package is not None
    return UploadOutcome(created=False, package=package, file=existing)


async def _publisher_of(ctx: Context, principal: Principal) -> dict[str, Any] | None:
    """Who a minted upload token was issued to (trusted publishing); None for API keys."""
    if principal.kind != PUBLISHER:
        return None
    identity = await ctx.db.fetch_val(
        sa.select(t.publish_tokens.c.identity).where(t.publish_tokens.c.id == principal.api_key_id)
    )
    return dict(identity) if identity else None


_IN_REPOSITORY = records.file_query().where(t.files.c.repository_id == sa.bindparam("repository_id"))
# The file of this name and the files with these bytes: two index lookups (as one OR, SQLite
# would walk every file of the repository).
_CLASHING = sa.union_all(
    _IN_REPOSITORY.where(t.files.c.filename == sa.bindparam("filename")),
    _IN_REPOSITORY.where(t.files.c.sha256 == sa.bindparam("sha256")),
)


async def clashing_files(
    ctx: Context, repository_id: str, filename: str, sha256: str
) -> tuple[FileRecord | None, FileRecord | None]:
    """(the file of this name, another file with these bytes)."""
    params = {"repository_id": repository_id, "filename": filename, "sha256": sha256}
    rows = await ctx.db.fetch_all(_CLASHING, params, quick=True)
    found = [FileRecord.from_row(row) for row in rows]
    named = next((file for file in found if file.filename == filename), None)
    other = next((file for file in found if file.filename != filename), None)
    return named, other


_REUSED = sa.select(t.filename_registry.c.filename).where(
    t.filename_registry.c.repository_id == sa.bindparam("repository_id"),
    t.filename_registry.c.filename == sa.bindparam("filename"),
)
# One release's files of one kind: the package by its unique index, then its files by
# (package, canonical version). However many releases a project has, the check reads only this
# one's files.
_SAME_RELEASE = sa.select(t.files.c.filename).where(
    t.files.c.package_id
    == sa.select(t.packages.c.id)
    .where(
        t.packages.c.repository_id == sa.bindparam("repository_id"),
        t.packages.c.normalized_name == sa.bindparam("name"),
    )
    .scalar_subquery(),
    t.files.c.canonical_version == sa.bindparam("version"),
    t.files.c.distribution_type == sa.bindparam("distribution_type"),
)


async def check_state(ctx: Context, repository_id: str, dist: DistFilename) -> None:
    """The rules that depend on what the repository once held."""
    reused = await ctx.db.fetch_one(_REUSED, {"repository_id": repository_id, "filename": dist.filename}, quick=True)
    if reused is not None:
        raise BadRequest("This filename has already been used, use a different version.")
    params = {
        "repository_id": repository_id,
        "name": dist.name,
        "version": canonical_version(dist.version),
        "distribution_type": dist.distribution_type,
    }
    release = [row["filename"] for row in await ctx.db.fetch_all(_SAME_RELEASE, params, quick=True)]
    if dist.distribution_type == "sdist" and release:
        raise BadRequest("Only one sdist may be uploaded per release.")
    # Filenames differ for one wheel written "Demo-1.0", "demo-1.0.0" or "demo-01.0": compare
    # what they name (release, build tag, tags), as installers do.
    twin = next((name for name in release if _same_wheel(parse_dist_filename(name), dist)), None)
    if twin is not None:
        raise BadRequest(
            f"A wheel for the same release, build and tags already exists: {twin!r}. Upload a new version instead."
        )


def _same_wheel(stored: DistFilename, new: DistFilename) -> bool:
    return stored.build == new.build and stored.tags == new.tags


_PACKAGE = sa.select(t.packages).where(t.packages.c.id == sa.bindparam("package_id"))
_TOUCH_PACKAGE = (
    t.packages.update()
    .where(
        t.packages.c.repository_id == sa.bindparam("repository"), t.packages.c.normalized_name == sa.bindparam("name")
    )
    .values(updated_at=sa.bindparam("now"))
    .returning(*t.packages.c)
)


async def get_or_create_package(ctx: Context, repository_id: str, name: str, normalized: str, summary: str) -> Row:
    now = utcnow()
    touched = await ctx.db.fetch_one(_TOUCH_PACKAGE, {"repository": repository_id, "name": normalized, "now": now})
    if touched is not None:
        return touched
    row = {
        "id": new_id(),
        "repository_id": repository_id,
        "name": name,
        "normalized_name": normalized,
        "summary": summary,
        "created_at": now,
        "updated_at": now,
        "status": "active",
        "status_reason": None,
    }
    await ctx.db.insert(t.packages, row)
    return row


def _file_row(
    repository: RepositoryRecord,
    package: Row,
    principal: Principal,
    dist: DistFilename,
    digests: Digests,
    metadata: CoreMetadata,
    metadata_sha256: str,
) -> dict[str, object]:
    return {
        "id": new_id(),
        "repository_id": repository.id,
        "package_id": package["id"],
        "filename": dist.filename,
        "version": str(metadata.version),
        "canonical_version": canonical_version(metadata.version),
        "distribution_type": dist.distribution_type,
        "python_version": dist.python_tag,
        "requires_python": metadata.requires_python,
        "summary": metadata.summary,
        **core_metadata.resolver_fields(metadata),
        "metadata_trusted": metadata.trusted_for(dist.distribution_type),
        "size": digests.size,
        "sha256": digests.sha256,
        "md5": digests.md5,
        "blake2_256": digests.blake2_256,
        "content_type": dist.content_type,
        "storage_backend": "",
        "metadata_sha256": metadata_sha256,
        "yanked": False,
        "yanked_reason": None,
        "yanked_at": None,
        "uploaded_by_id": principal.user_id,
        "created_at": utcnow(),
        "source": "upload",
        "upstream_url": None,
        "upstream_upload_time": None,
        "upstream_sha256": None,
        "scan_status": "not_scanned",
        "scan_max_severity": None,
        "scan_finding_count": 0,
    }


_UNFILLED = (
    sa.select(t.files.c.id, t.files.c.version)
    .where(t.files.c.id > sa.bindparam("after"), t.files.c.canonical_version.is_(None))
    .order_by(t.files.c.id)
    .limit(1000)
)
_FILL = (
    t.files.update().where(t.files.c.id == sa.bindparam("file_id")).values(canonical_version=sa.bindparam("canonical"))
)


async def fill_in_canonical_versions(db: Database) -> None:
    """Schema 8: each stored file's canonical version, which ``check_state`` looks its release up
    by, a thousand files at a time in the order of their ids; the index on the package alone
    gives way to the one on (package, canonical version)."""
    after = ""
    while rows := await db.fetch_all(_UNFILLED, {"after": after}):
        for row in rows:
            await db.execute(_FILL, {"file_id": row["id"], "canonical": canonical_version(row["version"])})
        after = rows[-1]["id"]
    await db.execute(sa.text("DROP INDEX IF EXISTS ix_files_package"))
