"""The shape every wrapper that hides files from package clients shares (scan blocking, release
cooldown): pages lose the hidden files and the versions left without files; downloads and
``.metadata`` of a hidden file find nothing; everything else is the inner repository's."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

from packaging.utils import NormalizedName

from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest
from qarion_pypi.repositories.base import Repository, Resource
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.simple.model import FileEntry, ProjectList, ProjectPage


def file_version(entry: FileEntry) -> str | None:
    """The version a page entry's filename names, or None when it names none."""
    try:
        return str(parse_dist_filename(entry.filename).version)
    except BadRequest:
        return None


class HidingFiles:
    def __init__(self, inner: Repository) -> None:
        self._inner = inner

    @property
    def record(self) -> RepositoryRecord:
        return self._inner.record

    def cache_key(self) -> Hashable | None:
        return self._inner.cache_key()

    async def project_list(self) -> ProjectList:
        return await self._inner.project_list()

    async def project_page(self, name: NormalizedName) -> ProjectPage | None:
        page = await self._inner.project_page(name)
        if page is None or not page.files:
            return page
        hidden = await self.hidden(page)
        if not hidden:
            return page
        files = [entry for entry in page.files if entry.file_id not in hidden]
        versions = {file_version(entry) for entry in files}
        return replace(page, files=files, versions=[v for v in page.versions if v in versions])

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        if await self.hides(file_id):
            return None
        return await self._inner.resource(file_id, filename)

    async def hidden(self, page: ProjectPage) -> set[str]:
        """The ids of the page's files that package clients must not see."""
        raise NotImplementedError

    async def hides(self, file_id: str) -> bool:
        """Whether the file with this id is hidden (its page need not be at hand)."""
        raise NotImplementedError
