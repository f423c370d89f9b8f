"""Scan blocking as a repository wrapper: for package clients, a blocked file is not there.

Only hosted repositories hold scanned files; virtual repositories inherit blocking through their
hosted members. Pages drop blocked files (and versions left without files); downloads and
``.metadata`` of a blocked file find nothing. Any change of a file's scan state or of the policy
moves the repository's serial, so a cached page never outlives the enforcement it was built for.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

import sqlalchemy as sa
from packaging.utils import NormalizedName

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.repositories.base import Repository, Resource
from qarion_pypi.repositories.records import RepositoryKind, RepositoryRecord
from qarion_pypi.scanning.policy import Enforcement, enforcement
from qarion_pypi.simple.model import ProjectList, ProjectPage


async def wrap(ctx: Context, repository: Repository) -> Repository:
    """The repository, behind blocking when its scan policy can block anything."""
    if repository.record.kind is not RepositoryKind.HOSTED:
        return repository
    enforced = await enforcement(ctx, repository.record.id)
    return ScanBlocking(ctx, repository, enforced) if enforced.can_block else repository


class ScanBlocking:
    def __init__(self, ctx: Context, inner: Repository, enforced: Enforcement) -> None:
        self._ctx = ctx
        self._inner = inner
        self._enforcement = enforced

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
        blocked = await self._blocked([entry.file_id for entry in page.files])
        files = [entry for entry in page.files if entry.file_id not in blocked]
        versions = {str(parse_dist_filename(entry.filename).version) for entry in files}
        return replace(page, files=files, versions=[v for v in page.versions if v in versions])

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        if not is_uuid(file_id) or await self._blocked([file_id]):
            return None
        return await self._inner.resource(file_id, filename)

    async def _blocked(self, file_ids: list[str]) -> set[str]:
        rows = await self._ctx.db.fetch_all(
            sa.select(t.files.c.id, t.files.c.scan_status, t.files.c.scan_max_severity).where(
                t.files.c.id.in_(file_ids)
            )
        )
        return {row["id"] for row in rows if self._enforcement.reason(row["scan_status"], row["scan_max_severity"])}
