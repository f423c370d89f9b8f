"""A proxy repository as a Simple API source: the upstream's pages, with this server's file URLs."""

from __future__ import annotations

from collections.abc import Callable

from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.services import proxy
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage

RemoteUrl = Callable[[str, str], str]


class ProxySource:
    def __init__(self, ctx: Context, repository: Row, file_url: RemoteUrl) -> None:
        self._ctx = ctx
        self._repository = repository
        self._file_url = file_url

    async def project_list(self) -> ProjectList:
        """The projects fetched so far: an upstream's full list can be enormous."""
        names = await proxy.cached_projects(self._ctx, self._repository)
        return ProjectList([ProjectEntry(name, name) for name in names])

    async def project_page(self, normalized_name: str) -> ProjectPage | None:
        found = await proxy.project_page(self._ctx, self._repository, normalized_name)
        if found is None:
            return None
        page, rows = found
        by_name = {row["filename"]: row for row in rows}
        files = [self._entry(entry, by_name[entry.filename]) for entry in page.files if entry.filename in by_name]
        return ProjectPage(page.name, page.normalized_name, files, page.versions)

    def _entry(self, upstream: FileEntry, row: Row) -> FileEntry:
        # Metadata is always offered for wheels: when the upstream has none, it is read out of
        # the cached wheel (PEP 658 allows "true" when the hash is not known yet).
        metadata: str | bool = row["metadata_sha256"] or upstream.core_metadata or upstream.filename.endswith(".whl")
        return FileEntry(
            filename=upstream.filename,
            url=self._file_url(row["id"], upstream.filename),
            sha256=row["sha256"],
            size=upstream.size,
            upload_time=upstream.upload_time,
            requires_python=upstream.requires_python,
            yanked=upstream.yanked,
            core_metadata=metadata,
        )
