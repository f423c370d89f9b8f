"""A virtual repository: members in priority order behind one index.

By default the first member that has a project owns it entirely: the other members' files for
that name are never shown, so an upstream cannot shadow a private package (dependency confusion).
With ``merge`` each version comes from the first member that has it; pages then carry PEP 708
``alternate-locations`` naming every member that serves the project. Merging lets a public
upstream add versions to a private name: opt in only for members you trust.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from qarion_pypi.repositories.base import Repository, Resource
from qarion_pypi.repositories.hiding import file_version
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage


class VirtualRepository:
    def __init__(self, record: RepositoryRecord, members: Sequence[Repository], *, site: str) -> None:
        """``members`` highest priority first; ``site`` prefixes the client paths that PEP 708
        ``alternate-locations`` name."""
        assert record.virtual is not None
        self.record = record
        self._members = members
        self._merge = record.virtual.merge
        self._site = site

    def cache_key(self) -> Hashable | None:
        """Cacheable while every member is: the key moves with the members' keys and its own serial."""
        keys = [member.cache_key() for member in self._members]
        if any(key is None for key in keys):
            return None
        return ("virtual", self.record.id, self.record.serial, tuple(keys))

    async def project_list(self) -> ProjectList:
        seen: dict[str, ProjectEntry] = {}
        for member in self._members:
            for entry in (await member.project_list()).projects:
                seen.setdefault(entry.normalized_name, entry)
        return ProjectList(sorted(seen.values(), key=lambda e: e.normalized_name))

    async def project_page(self, name: NormalizedName) -> ProjectPage | None:
        if not self._merge:
            for member in self._members:
                page = await member.project_page(name)
                if page is not None:
                    return page
            return None
        return await self._merged(name)

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        """A file id names one file of one member; the first member that has it serves it."""
        for member in self._members:
            found = await member.resource(file_id, filename)
            if found is not None:
                return found
        return None

    async def _merged(self, normalized_name: NormalizedName) -> ProjectPage | None:
        pages = [(page, self._index_url(member)) for member in self._members
                 if (page := await member.project_page(normalized_name)) is not None]  # fmt: skip
        if not pages:
            return None
        owner: dict[str, int] = {}
        for position, (page, _) in enumerate(pages):
            for entry in page.files:
                owner.setdefault(_version_of(entry), position)
        files = [entry for position, (page, _) in enumerate(pages) for entry in page.files
                 if owner[_version_of(entry)] == position]  # fmt: skip
        versions = sorted(
            {v for page, _ in pages for v in page.versions} | {_version_of(f) for f in files}, key=_sort_key
        )
        alternates = [index_url + normalized_name + "/" for _, index_url in pages] if len(pages) > 1 else []
        first = pages[0][0]
        # The first member with the project speaks for it, its status included.
        return replace(first, files=files, versions=versions, alternate_locations=alternates, tracks=[])

    def _index_url(self, member: Repository) -> str:
        return f"{self._site}{member.record.client_path}/simple/"


def _version_of(entry: FileEntry) -> str:
    """A file's version, or its own name when it names none (it then owns itself)."""
    return file_version(entry) or entry.filename


def _sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)
