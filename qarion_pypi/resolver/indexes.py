"""Where the resolver reads projects from: an upstream Simple API, one of this server's hosted
repositories, or layers of them in priority order.

Each index answers two questions: a project's files (None when it does not have the project)
and the requirements in one of those files' metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from packaging.utils import NormalizedName

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.distributions.archives import ArchiveLimits
from qarion_pypi.distributions.metadata import parse_off_loop
from qarion_pypi.errors import Unavailable
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.simple.model import FileEntry
from qarion_pypi.upstream.http import UpstreamError
from qarion_pypi.upstream.metadata import fetch_metadata
from qarion_pypi.upstream.simple import fetch_project


class UpstreamIndex:
    def __init__(self, ctx: Context, index_url: str, label: str = "") -> None:
        self.label = label or index_url
        self._ctx = ctx
        self._index_url = index_url
        self._client = ctx.http.with_auth(None)
        self._limits = ArchiveLimits.of(ctx.settings)

    async def pages(self, project: NormalizedName) -> list[FileEntry] | None:
        try:
            fetched = await fetch_project(self._client, self._index_url, project)
        except UpstreamError as exc:
            raise Unavailable(f"The index {self.label} could not be read for {project}: {exc}") from None
        return None if fetched.page is None else fetched.page.files

    async def requirements(self, entry: FileEntry) -> tuple[str, ...]:
        try:
            source = await fetch_metadata(self._client, entry, self._limits, self._ctx.settings.max_upload_bytes)
        except UpstreamError as exc:
            raise Unavailable(f"The metadata of {entry.filename} could not be read: {exc}") from None
        return (await parse_off_loop(source.raw)).requires_dist


class RepositoryIndex:
    """A hosted repository's own files, every one of them (blocked or not), with the
    requirements recorded at upload."""

    label = "repository"

    def __init__(self, ctx: Context, repository: RepositoryRecord) -> None:
        self._ctx = ctx
        self._repository = repository
        self._requirements: dict[str, tuple[str, ...]] = {}

    async def pages(self, project: NormalizedName) -> list[FileEntry] | None:
        rows = await self._ctx.db.fetch_all(
            sa.select(t.files)
            .join(t.packages, t.packages.c.id == t.files.c.package_id)
            .where(t.files.c.repository_id == self._repository.id, t.packages.c.normalized_name == project)
        )
        if not rows:
            return None
        entries = []
        for row in rows:
            url = f"repository-file:{row['id']}"
            self._requirements[url] = tuple(row["requires_dist"])
            yanked: str | bool = (row["yanked_reason"] or "") if row["yanked"] else False
            entries.append(FileEntry(row["filename"], url, row["sha256"], row["size"],
                                     requires_python=row["requires_python"], yanked=yanked))  # fmt: skip
        return entries

    async def requirements(self, entry: FileEntry) -> tuple[str, ...]:
        return self._requirements[entry.url]


Index = UpstreamIndex | RepositoryIndex


@dataclass
class LayeredIndex:
    """The first index that has a project owns it; the others are not asked about it (the
    dependency-confusion rule of virtual repositories)."""

    layers: list[Index]
    owners: dict[str, str] = field(default_factory=dict)
    _by_url: dict[str, Index] = field(default_factory=dict)

    async def pages(self, project: NormalizedName) -> list[FileEntry] | None:
        for layer in self.layers:
            files = await layer.pages(project)
            if files is not None:
                self.owners[project] = layer.label
                self._by_url.update((entry.url, layer) for entry in files)
                return files
        return None

    async def requirements(self, entry: FileEntry) -> tuple[str, ...]:
        return await self._by_url[entry.url].requirements(entry)
