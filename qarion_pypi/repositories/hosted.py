"""The hosted repository as a Simple API source: straight from the database."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from packaging.version import Version

from qarion_pypi.db import Database, Row
from qarion_pypi.db import tables as t
from qarion_pypi.scanning.policy import Enforcement
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage

FileUrl = Callable[[str, str], str]


class HostedSource:
    """Files whose scans block them (``enforcement``) are left out, as if never uploaded."""

    def __init__(self, db: Database, repository: Row, file_url: FileUrl, enforcement: Enforcement) -> None:
        self._db = db
        self._repository = repository
        self._file_url = file_url
        self._enforcement = enforcement

    async def project_list(self) -> ProjectList:
        rows = await self._db.fetch_all(
            sa.select(t.packages.c.name, t.packages.c.normalized_name)
            .where(t.packages.c.repository_id == self._repository["id"])
            .order_by(t.packages.c.normalized_name)
        )
        return ProjectList([ProjectEntry(r["name"], r["normalized_name"]) for r in rows])

    async def project_page(self, normalized_name: str) -> ProjectPage | None:
        package = await self._db.fetch_one(
            sa.select(t.packages.c.id, t.packages.c.name, t.packages.c.normalized_name).where(
                t.packages.c.repository_id == self._repository["id"],
                t.packages.c.normalized_name == normalized_name,
            )
        )
        if package is None:
            return None
        files = await self._db.fetch_all(
            sa.select(
                t.files.c.id,
                t.files.c.filename,
                t.files.c.version,
                t.files.c.sha256,
                t.files.c.size,
                t.files.c.created_at,
                t.files.c.requires_python,
                t.files.c.yanked,
                t.files.c.yanked_reason,
                t.files.c.metadata_sha256,
                t.files.c.scan_status,
                t.files.c.scan_max_severity,
            )
            .where(t.files.c.package_id == package["id"])
            .order_by(t.files.c.filename)
        )
        files = [f for f in files if self._enforcement.file_reason(f) is None]
        versions = sorted({Version(f["version"]) for f in files})
        return ProjectPage(
            name=package["name"],
            normalized_name=package["normalized_name"],
            files=[self._entry(f) for f in files],
            versions=[str(v) for v in versions],
        )

    def _entry(self, row: Row) -> FileEntry:
        yanked: str | bool = (row["yanked_reason"] or "") if row["yanked"] else False
        return FileEntry(
            filename=row["filename"],
            url=self._file_url(row["id"], row["filename"]),
            sha256=row["sha256"],
            size=row["size"],
            upload_time=row["created_at"],
            requires_python=row["requires_python"],
            yanked=yanked,
            core_metadata=row["metadata_sha256"] or False,
        )
