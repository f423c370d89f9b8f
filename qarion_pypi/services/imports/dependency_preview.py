"""What an import of one exact release would bring in for a target: the root's files and the
artifacts of every dependency, with what the repository already holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.resolver.closure import Release, Selection, resolve
from qarion_pypi.resolver.indexes import UpstreamIndex
from qarion_pypi.resolver.target import Target
from qarion_pypi.services.imports.params import ImportParams
from qarion_pypi.services.imports.upstream_preview import upstream_project
from qarion_pypi.simple.model import FileEntry


async def preview(ctx: Context, repository: RepositoryRecord, request: ImportParams) -> dict[str, Any]:
    await upstream_project(ctx, request.package_name)  # 503 without an upstream, 404 if unknown there
    target = request.target
    releases = await closure(ctx, request.package_name, request.version, target, request.selection)
    root, dependencies = releases[0], releases[1:]
    root_artifacts = root_files(root, request.selected_filenames)
    present = await _present(ctx, repository, [f for r in releases for f in r.artifacts] + root_artifacts)
    dependency_files = [f for r in dependencies for f in r.artifacts]
    return {
        "package_name": root.name,
        "version": str(root.version),
        "root_filenames": [f.filename for f in root_artifacts],
        "target": {
            "python_version": target.python_version,
            "platform": target.platform,
            "python_tags": list(request.python_tags),
            "platform_tags": list(request.platform_tags),
            "environment": target.environment,
        },
        "dependency_count": len(dependencies),
        "dependency_file_count": len(dependency_files),
        "already_imported_count": sum(1 for f in dependency_files if f.filename in present),
        "root_already_imported_count": sum(1 for f in root_artifacts if f.filename in present),
        "dependencies": [
            {
                "normalized_name": release.name,
                "version": str(release.version),
                "required_by": release.required_by,
                "artifacts": [_artifact(f, f.filename in present) for f in release.artifacts],
            }
            for release in dependencies
        ],
    }


async def closure(ctx: Context, name: str, version: str, target: Target, selection: Selection) -> list[Release]:
    index = UpstreamIndex(ctx, ctx.settings.upstream_index_url, "the upstream index")
    return await resolve(name, version, target, selection, index.pages, index.requirements)


def root_files(root: Release, selected: Sequence[str]) -> list[FileEntry]:
    """The root release's files to import: those named (any of its files, fitting the target or
    not), or else the ones selected for the target."""
    if not selected:
        return root.artifacts
    known = {f.filename: f for f in root.candidate_files}
    missing = [name for name in selected if name not in known]
    if missing:
        raise ValidationFailed(
            "Invalid selection.",
            [FieldError("selected_filenames", f"not files of {root.name} {root.version}: {', '.join(missing)}")],
        )
    return [known[name] for name in selected]


async def _present(ctx: Context, repository: RepositoryRecord, entries: Sequence[FileEntry]) -> set[str]:
    """Filenames the repository already holds with the same bytes."""
    if not entries:
        return set()
    rows = await ctx.db.fetch_all(
        sa.select(t.files.c.filename, t.files.c.sha256).where(
            t.files.c.repository_id == repository.id, t.files.c.filename.in_([e.filename for e in entries])
        )
    )
    hashes = {e.filename: e.sha256 for e in entries}
    return {row["filename"] for row in rows if hashes.get(row["filename"]) == row["sha256"]}


def _artifact(entry: FileEntry, present: bool) -> dict[str, Any]:
    dist = parse_dist_filename(entry.filename)
    return {"filename": entry.filename, "distribution_type": dist.distribution_type, "size": entry.size or None,
            "sha256": entry.sha256, "already_imported": present}  # fmt: skip
