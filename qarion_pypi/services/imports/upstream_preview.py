"""Previews of what the configured upstream index offers: a project's versions, one release's files.

The upstream is ``[upstream] index_url``; nothing here names an index. Credentials for it come
from the ``[upstream] netrc`` file.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.context import Context
from qarion_pypi.distributions.archives import ArchiveLimits
from qarion_pypi.distributions.filenames import DistFilename, parse_dist_filename
from qarion_pypi.distributions.metadata import parse_off_loop
from qarion_pypi.errors import BadRequest, NotFound, Unavailable
from qarion_pypi.simple.model import FileEntry
from qarion_pypi.upstream.http import UpstreamError
from qarion_pypi.upstream.metadata import fetch_metadata
from qarion_pypi.upstream.simple import Fetched, fetch_project


@dataclass
class VersionSummary:
    version: str
    files: list[FileEntry] = field(default_factory=list)
    unsupported: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "file_count": len(self.files),
            "yanked_file_count": sum(1 for f in self.files if f.yanked is not False),
            "unsupported_file_count": self.unsupported,
        }


async def upstream_project(ctx: Context, name: str) -> Fetched:
    index = ctx.settings.upstream_index_url
    if not index:
        raise Unavailable("No upstream index is configured ([upstream] index_url).")
    try:
        fetched = await fetch_project(ctx.http.with_auth(None), index, canonicalize_name(name))
    except UpstreamError as exc:
        raise Unavailable(f"The upstream index could not be read: {exc}") from None
    if fetched.page is None:
        raise NotFound(f"Package {name!r} not found on the upstream index.")
    return fetched


def versions(fetched: Fetched) -> dict[str, VersionSummary]:
    """Supported files grouped by version, newest first, with unsupported files counted."""
    assert fetched.page is not None
    grouped: dict[str, VersionSummary] = defaultdict(lambda: VersionSummary(""))
    for entry in fetched.page.files:
        version = str(parse_dist_filename(entry.filename).version)
        grouped[version].version = version
        grouped[version].files.append(entry)
    for filename in fetched.unsupported:
        loose = _loose_version(filename)
        if loose:
            grouped[loose].version = loose
            grouped[loose].unsupported += 1
    return dict(sorted(grouped.items(), key=lambda item: _key(item[0]), reverse=True))


def latest(summaries: dict[str, VersionSummary]) -> str | None:
    """The newest version with a file that is not yanked, preferring final releases."""
    live = [v for v, s in summaries.items() if any(f.yanked is False for f in s.files)]
    finals = [v for v in live if not _key(v).is_prerelease]
    pool = finals or live
    return max(pool, key=_key) if pool else None


async def summary_of(ctx: Context, files: list[FileEntry]) -> str:
    """The Summary field of a release, read from the cheapest file (wheels first)."""
    if not files:
        return ""
    entry = sorted(files, key=lambda f: (not f.filename.endswith(".whl"), f.size or 0))[0]
    limits = ArchiveLimits.of(ctx.settings)
    try:
        source = await fetch_metadata(ctx.http.with_auth(None), entry, limits, ctx.settings.max_upload_bytes)
        return (await parse_off_loop(source.raw)).summary
    except (UpstreamError, BadRequest):
        return ""


def describe_file(entry: FileEntry) -> dict[str, Any]:
    dist: DistFilename = parse_dist_filename(entry.filename)
    tags = sorted(dist.tags, key=str)
    return {
        "filename": entry.filename,
        "distribution_type": dist.distribution_type,
        "package_type": dist.packagetype,
        "python_tags": sorted({t.interpreter for t in tags}) if tags else ["source"],
        "abi_tags": sorted({t.abi for t in tags}),
        "platform_tags": sorted({t.platform for t in tags}),
        "size": entry.size or None,
        "sha256": entry.sha256,
        "upload_time": entry.upload_time.isoformat().replace("+00:00", "Z") if entry.upload_time else None,
        "yanked": entry.yanked is not False,
        "yanked_reason": entry.yanked if isinstance(entry.yanked, str) and entry.yanked else None,
        "requires_python": entry.requires_python,
    }


def _key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def _loose_version(filename: str) -> str | None:
    """The version in a filename we do not support (an .egg, an .exe), when one can be read."""
    parts = filename.split("-")
    if len(parts) < 2:
        return None
    try:
        return str(Version(parts[1].removesuffix(".tar.gz").removesuffix(".zip").split(".win")[0]))
    except InvalidVersion:
        return None


async def package_preview(ctx: Context, name: str) -> dict[str, Any]:
    """An upstream project's versions with file counts, its latest version and summary."""
    fetched = await upstream_project(ctx, name)
    summaries = versions(fetched)
    newest = latest(summaries)
    assert fetched.page is not None
    return {
        "name": fetched.page.name,
        "normalized_name": fetched.page.normalized_name,
        "summary": await summary_of(ctx, summaries[newest].files) if newest else "",
        "latest_version": newest,
        "versions": [summary.as_dict() for summary in summaries.values()],
    }


async def release_preview(ctx: Context, name: str, version: str) -> dict[str, Any]:
    """One upstream release's supported files; 404 when it has none."""
    fetched = await upstream_project(ctx, name)
    release = next((s for v, s in versions(fetched).items() if v == version or _same_version(v, version)), None)
    if release is None or not release.files:
        raise NotFound(f"Version {version!r} has no supported files on the upstream index.")
    assert fetched.page is not None
    return {
        "name": fetched.page.name,
        "normalized_name": fetched.page.normalized_name,
        "version": release.version,
        "files": [describe_file(entry) for entry in release.files],
    }


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False
