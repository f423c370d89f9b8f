"""A repository answering from memory: pages and files given up front, questions recorded."""

from __future__ import annotations

from collections.abc import Hashable

from packaging.utils import NormalizedName

from qarion_pypi.db.types import utcnow
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.repositories.base import BytesResource, Resource, file_link
from qarion_pypi.repositories.records import RepositoryKind, RepositoryRecord
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage


def record(slug: str = "static", kind: RepositoryKind = RepositoryKind.HOSTED, serial: int = 0) -> RepositoryRecord:
    now = utcnow()
    return RepositoryRecord(
        id=f"id-{slug}", space_id="space", space_slug="acme", project_scope_id=None, project_scope_slug=None,
        project_scope_name=None, kind=kind, name=slug, slug=slug, description="", is_active=True, archived_at=None,
        created_at=now, updated_at=now, created_by_id=None, updated_by_id=None, serial=serial,
    )  # fmt: skip


class StaticRepository:
    """Pages from ``{project: [filename, ...]}``; each file's id is ``<slug>:<filename>`` and its
    resource is its name's bytes. ``asked`` lists every project page asked for."""

    def __init__(self, pages: dict[str, list[str]], *, slug: str = "static", cacheable: bool = True) -> None:
        self.record = record(slug)
        self.pages = pages
        self.asked: list[str] = []
        self._cacheable = cacheable

    def cache_key(self) -> Hashable | None:
        return ("static", self.record.slug) if self._cacheable else None

    async def project_list(self) -> ProjectList:
        return ProjectList([ProjectEntry(name, name) for name in sorted(self.pages)])

    async def project_page(self, name: NormalizedName) -> ProjectPage | None:
        self.asked.append(name)
        if name not in self.pages:
            return None
        files = [self._entry(filename) for filename in self.pages[name]]
        versions = sorted({str(parse_dist_filename(f).version) for f in self.pages[name]})
        return ProjectPage(name, name, files, versions)

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        owned = {self._id(f) for files in self.pages.values() for f in files}
        if file_id in owned and file_id == self._id(filename):
            return BytesResource(filename.encode(), "0" * 64)
        return None

    def _id(self, filename: str) -> str:
        return f"{self.record.slug}:{filename}"

    def _entry(self, filename: str) -> FileEntry:
        file_id = self._id(filename)
        return FileEntry(filename, file_link(file_id, filename), "0" * 64, 1, file_id=file_id)
