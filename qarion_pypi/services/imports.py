"""Importing exact releases from the configured upstream index, as a background job.

The job resolves the closure (unless told not to), then brings in each selected artifact: files
already present with the same bytes are skipped; every other file is downloaded (bounded),
checked against the upstream's sha256 and handed to the same upload service as twine's uploads,
with a record of where it came from. A dependency whose name the repository already hosts from
uploads is skipped unless the request names it: an import never shadows a private package
(dependency confusion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import sqlalchemy as sa
from packaging.utils import canonicalize_name

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.errors import QarionError, Unavailable
from qarion_pypi.jobs.queue import Progress
from qarion_pypi.resolver.closure import Release, Selection
from qarion_pypi.resolver.target import target_from
from qarion_pypi.services import audit, dependency_preview, repositories, uploads, users
from qarion_pypi.simple.model import FileEntry
from qarion_pypi.upstream.policy import OutboundRefused

JOB_KIND = "pypi_import"


async def run_job(ctx: Context, job: Row, progress: Progress) -> dict[str, Any]:
    request: Mapping[str, Any] = job["params"]
    repository = await repositories.get_by_id(ctx, job["repository_id"])
    importer = await _principal(ctx, job["created_by_id"])
    target = target_from(request["python_tags"], request.get("platform_tags") or [])
    selection = Selection(request.get("include_sdists", True), request.get("include_universal_wheels", True))
    await progress.report(5, "resolving", f"Resolving {request['package_name']} {request['version']}.")
    releases = await dependency_preview.closure(ctx, request["package_name"], request["version"], target, selection)
    root, dependencies = releases[0], releases[1:]
    root_files = dependency_preview.root_files(root, request.get("selected_filenames"))
    wanted = _dependency_files(request, dependencies)
    hosted = await _hosted_from_uploads(ctx, repository)
    named = {canonicalize_name(a["normalized_name"]) for a in request.get("selected_dependency_artifacts") or []}
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


def _dependency_files(request: Mapping[str, Any], dependencies: list[Release]) -> list[tuple[Release, FileEntry]]:
    """All resolved artifacts (include_all_dependencies, or no selection given), the selected
    ones, or none when include_dependencies is false."""
    if not request.get("include_dependencies", True):
        return []
    every = [(release, entry) for release in dependencies for entry in release.artifacts]
    selected = request.get("selected_dependency_artifacts") or []
    if request.get("include_all_dependencies") or not selected:
        return every
    chosen = {(canonicalize_name(a["normalized_name"]), a["version"], a["filename"]) for a in selected}
    return [(r, f) for r, f in every if (r.name, str(r.version), f.filename) in chosen]


async def _import_file(ctx: Context, importer: Principal, repository: Row, entry: FileEntry) -> dict[str, Any]:
    present = await ctx.db.fetch_one(
        sa.select(t.files.c.sha256).where(
            t.files.c.repository_id == repository["id"], t.files.c.filename == entry.filename
        )
    )
    if present is not None and present["sha256"] == entry.sha256:
        return {"filename": entry.filename, "imported": False, "reason": "already present with the same bytes"}
    blob = ctx.blobs.incoming()
    try:
        await _download(ctx, entry, blob)
        digests = await blob.finish()
        if digests.sha256 != entry.sha256:
            return {"filename": entry.filename, "imported": False, "reason": "does not match the upstream's sha256"}
        provenance = {"source": "import", "upstream_url": entry.url, "upstream_upload_time": entry.upload_time,
                      "upstream_sha256": entry.sha256}  # fmt: skip
        upload = uploads.Upload(form={}, filename=entry.filename, blob=blob, legacy=False, provenance=provenance)
        try:
            outcome = await uploads.accept(ctx, importer, repository, upload)
        except QarionError as exc:
            return {"filename": entry.filename, "imported": False, "reason": exc.detail}
    finally:
        blob.discard()
    event = audit.Event(
        "import", "file", outcome.file["id"], repository["space_slug"], 200, f"{entry.filename} from {entry.url}"
    )
    await audit.record(ctx, importer, event)
    return {
        "filename": entry.filename,
        "imported": outcome.created,
        "file_id": outcome.file["id"],
        "sha256": entry.sha256,
    }


async def _download(ctx: Context, entry: FileEntry, blob: Any) -> None:
    try:
        async with ctx.http.with_auth(None).stream("GET", entry.url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise Unavailable(f"The upstream answered {response.status_code} for {entry.filename}.")
            async for chunk in response.aiter_bytes(1024 * 1024):
                if blob.size + len(chunk) > ctx.settings.max_upload_bytes:
                    raise Unavailable(f"{entry.filename} is larger than this server accepts.")
                await blob.write(chunk)
    except (httpx.HTTPError, OutboundRefused) as exc:
        raise Unavailable(
            f"The upstream could not be reached for {entry.filename} ({exc.__class__.__name__})."
        ) from None


async def _hosted_from_uploads(ctx: Context, repository: Row) -> set[str]:
    rows = await ctx.db.fetch_all(
        sa.select(t.packages.c.normalized_name)
        .join(t.files, t.files.c.package_id == t.packages.c.id)
        .where(t.packages.c.repository_id == repository["id"], t.files.c.source == "upload")
        .distinct()
    )
    return {row["normalized_name"] for row in rows}


async def _principal(ctx: Context, user_id: str | None) -> Principal:
    principal = await users.principal_of(ctx, user_id)
    if principal is None:
        raise Unavailable("The user who queued this import no longer exists.")
    return principal
