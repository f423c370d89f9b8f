"""Importing exact releases from the configured upstream index, as a background job.

The job resolves the closure (unless told not to), then brings in each selected artifact: files
already present with the same bytes are skipped; every other file is downloaded (bounded),
checked against the upstream's sha256 and handed to the same upload service as twine's uploads,
with a record of where it came from. A dependency whose name the repository already hosts from
uploads is skipped unless the request names it: an import never shadows a private package
(dependency confusion).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.errors import QarionError, Unavailable
from qarion_pypi.jobs.queue import JobRecord, Progress
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.resolver.closure import Release
from qarion_pypi.services import audit
from qarion_pypi.services.accounts import users
from qarion_pypi.services.catalog import uploads
from qarion_pypi.services.imports import dependency_preview
from qarion_pypi.services.imports.params import ImportParams
from qarion_pypi.services.imports.upstream_preview import upstream_project
from qarion_pypi.simple.model import FileEntry
from qarion_pypi.upstream.download import HashMismatch, download
from qarion_pypi.upstream.http import UpstreamError

JOB_KIND = "pypi_import"


async def queue(ctx: Context, principal: Principal, repository: RepositoryRecord, request: ImportParams) -> str:
    """Check what can be checked now (a 422, 503 or 404 beats a failed job later), then queue it."""
    request.target  # noqa: B018 (raises for tags that describe no environment)
    await upstream_project(ctx, request.package_name)  # 503 without an upstream, 404 if unknown there
    await uploads.target(ctx, principal, repository)  # only hosted repositories take files
    return await ctx.jobs.enqueue(
        JOB_KIND, request.as_params(), repository_id=repository.id, created_by_id=principal.user_id
    )


async def run_job(ctx: Context, job: JobRecord, progress: Progress) -> dict[str, Any]:
    request = ImportParams.from_params(job.params)
    assert job.repository_id is not None
    repository = await records.load(ctx.db, job.repository_id)
    importer = await _principal(ctx, job.created_by_id)
    await progress.report(5, "resolving", f"Resolving {request.package_name} {request.version}.")
    releases = await dependency_preview.closure(
        ctx, request.package_name, request.version, request.target, request.selection
    )
    root, dependencies = releases[0], releases[1:]
    root_files = dependency_preview.root_files(root, request.selected_filenames)
    wanted = _dependency_files(request, dependencies)
    hosted = await _hosted_from_uploads(ctx, repository)
    named = request.named_dependencies
    outcomes = ("imported_root_files", "skipped_root_files", "imported_dependency_files", "skipped_dependency_files")
    result: dict[str, list[dict[str, Any]]] = {key: [] for key in outcomes}
    work = [("root", root, f) for f in root_files] + [("dependency", r, f) for r, f in wanted]
    for index, (role, release, entry) in enumerate(work):
        await progress.report(10 + 85 * index // max(len(work), 1), "importing", f"Importing {entry.filename}.")
        if role == "dependency" and release.name in hosted and release.name not in named:
            reason = (
                f"{release.name} is hosted here from uploads; name it in selected_dependency_artifacts to import it"
            )
            result["skipped_dependency_files"].append({"filename": entry.filename, "reason": reason})
            continue
        outcome = await _import_file(ctx, importer, repository, entry)
        key = f"{'imported' if outcome['imported'] else 'skipped'}_{role}_files"
        result[key].append(outcome)
    await progress.report(
        100,
        "completed",
        f"Imported {len(result['imported_root_files']) + len(result['imported_dependency_files'])} files.",
    )
    return result


def _dependency_files(request: ImportParams, dependencies: list[Release]) -> list[tuple[Release, FileEntry]]:
    """All resolved artifacts (include_all_dependencies, or no selection given), the selected
    ones, or none when include_dependencies is false."""
    if not request.include_dependencies:
        return []
    every = [(release, entry) for release in dependencies for entry in release.artifacts]
    if request.include_all_dependencies or not request.selected_dependency_artifacts:
        return every
    chosen = {(a.normalized_name, a.version, a.filename) for a in request.selected_dependency_artifacts}
    return [(r, f) for r, f in every if (r.name, str(r.version), f.filename) in chosen]


async def _import_file(
    ctx: Context, importer: Principal, repository: RepositoryRecord, entry: FileEntry
) -> dict[str, Any]:
    present = await ctx.db.fetch_one(
        sa.select(t.files.c.sha256).where(
            t.files.c.repository_id == repository.id, t.files.c.filename == entry.filename
        )
    )
    if present is not None and present["sha256"] == entry.sha256:
        return {"filename": entry.filename, "imported": False, "reason": "already present with the same bytes"}
    blob = ctx.blobs.incoming()
    try:
        try:
            await download(ctx.http.with_auth(None), entry.url, blob, max_bytes=ctx.settings.max_upload_bytes,
                           sha256=entry.sha256, name=entry.filename)  # fmt: skip
        except HashMismatch:
            return {"filename": entry.filename, "imported": False, "reason": "does not match the upstream's sha256"}
        except UpstreamError as exc:
            raise Unavailable(f"The upstream file could not be fetched: {exc}.") from None
        provenance = {"source": "import", "upstream_url": entry.url, "upstream_upload_time": entry.upload_time,
                      "upstream_sha256": entry.sha256}  # fmt: skip
        upload = uploads.Upload(form={}, filename=entry.filename, blob=blob, legacy=False, provenance=provenance)
        try:
            outcome = await uploads.accept(ctx, importer, repository, upload)
        except QarionError as exc:
            return {"filename": entry.filename, "imported": False, "reason": exc.detail}
    finally:
        blob.discard()
    event = audit.Event("import", "file", outcome.file.id, repository.space_slug, 200,
                        f"{entry.filename} from {entry.url}", entry.filename)  # fmt: skip
    await audit.record(ctx, importer, event)
    return {
        "filename": entry.filename,
        "imported": outcome.created,
        "file_id": outcome.file.id,
        "sha256": entry.sha256,
    }


async def _hosted_from_uploads(ctx: Context, repository: RepositoryRecord) -> set[str]:
    rows = await ctx.db.fetch_all(
        sa.select(t.packages.c.normalized_name)
        .join(t.files, t.files.c.package_id == t.packages.c.id)
        .where(t.packages.c.repository_id == repository.id, t.files.c.source == "upload")
        .distinct()
    )
    return {row["normalized_name"] for row in rows}


async def _principal(ctx: Context, user_id: str | None) -> Principal:
    principal = await users.principal_of(ctx, user_id)
    if principal is None:
        raise Unavailable("The account that queued this import no longer exists or is deactivated.")
    return principal
