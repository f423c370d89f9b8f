"""Scan blocking as a repository wrapper: for package clients, a blocked file is not there.

Only hosted repositories hold scanned files; virtual repositories inherit blocking through their
hosted members. Pages drop blocked files (and versions left without files); downloads and
``.metadata`` of a blocked file find nothing. Any change of a file's scan state or of the policy
moves the repository's serial, so a cached page never outlives the enforcement it was built for.
"""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.repositories.base import Repository
from qarion_pypi.repositories.hiding import HidingFiles
from qarion_pypi.repositories.records import RepositoryKind
from qarion_pypi.scanning.policy import Enforcement, enforcement
from qarion_pypi.simple.model import ProjectPage


async def wrap(ctx: Context, repository: Repository) -> Repository:
    """The repository, behind blocking when its scan policy can block anything."""
    if repository.record.kind is not RepositoryKind.HOSTED or not ctx.settings.scanning_enabled:
        return repository  # with scanning off nothing is blocked: no policy to read per request
    enforced = await enforcement(ctx, repository.record.id)
    return ScanBlocking(ctx, repository, enforced) if enforced.can_block else repository


class ScanBlocking(HidingFiles):
    def __init__(self, ctx: Context, inner: Repository, enforced: Enforcement) -> None:
        super().__init__(inner)
        self._ctx = ctx
        self._enforcement = enforced

    async def hidden(self, page: ProjectPage) -> set[str]:
        return await self._blocked([entry.file_id for entry in page.files])

    async def hides(self, file_id: str) -> bool:
        return not is_uuid(file_id) or bool(await self._blocked([file_id]))

    async def _blocked(self, file_ids: list[str]) -> set[str]:
        rows = await self._ctx.db.fetch_all(
            sa.select(t.files.c.id, t.files.c.scan_status, t.files.c.scan_max_severity).where(
                t.files.c.id.in_(file_ids)
            )
        )
        return {row["id"] for row in rows if self._enforcement.reason(row["scan_status"], row["scan_max_severity"])}
