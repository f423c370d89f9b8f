"""A hosted repository: uploaded and imported files, straight from the database and blob store."""

from __future__ import annotations

from collections.abc import Hashable

import sqlalchemy as sa
from packaging.utils import NormalizedName
from packaging.version import Version

from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.repositories import core_metadata
from qarion_pypi.repositories.base import (
    METADATA_SUFFIX,
    BlobResource,
    BytesResource,
    Resource,
    file_link,
    provenance_link,
)
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage, ResolverMetadata

_PAGE_COLUMNS = (
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
    t.files.c.metadata_trusted,
    t.files.c.attested_by,
    t.files.c.requires_dist,
    t.files.c.requires_external,
    t.files.c.provides_extra,
)


class HostedRepository:
    def __init__(self, ctx: Context, record: RepositoryRecord) -> None:
        self._ctx = ctx
        self.record = record

    def cache_key(self) -> Hashable:
        """Every change to the contents moves the serial."""
        return ("hosted", self.record.id, self.record.serial)

    async def project_list(self) -> ProjectList:
        rows = await self._ctx.db.fetch_all(
            sa.select(t.packages.c.name, t.packages.c.normalized_name)
            .where(t.packages.c.repository_id == self.record.id)
            .order_by(t.packages.c.normalized_name)
        )
        return ProjectList([ProjectEntry(r["name"], r["normalized_name"]) for r in rows])

    async def project_page(self, name: NormalizedName) -> ProjectPage | None:
        package = await self._ctx.db.fetch_one(
            sa.select(
                t.packages.c.id,
                t.packages.c.name,
                t.packages.c.normalized_name,
                t.packages.c.status,
                t.packages.c.status_reason,
            ).where(t.packages.c.repository_id == self.record.id, t.packages.c.normalized_name == name)
        )
        if package is None:
            return None
        files = []
        if package["status"] != "quarantined":  # PEP 792: a quarantined project serves no files
            files = await self._ctx.db.fetch_all(
                sa.select(*_PAGE_COLUMNS).where(t.files.c.package_id == package["id"]).order_by(t.files.c.filename)
            )
        return ProjectPage(
            name=package["name"],
            normalized_name=package["normalized_name"],
            files=[_entry(f, package["normalized_name"]) for f in files],
            versions=[str(v) for v in sorted({Version(f["version"]) for f in files})],
            status=package["status"],
            status_reason=package["status_reason"],
        )

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        file = await self._file(file_id)
        if file is None:
            return None
        if filename == file["filename"]:
            return BlobResource(file["sha256"], file["size"])
        if filename == file["filename"] + METADATA_SUFFIX and file["metadata_sha256"] and file["metadata_trusted"]:
            return BytesResource(
                await core_metadata.load(self._ctx.db, file["metadata_sha256"]), file["metadata_sha256"]
            )
        return None

    async def _file(self, file_id: str) -> Row | None:
        if not is_uuid(file_id):
            return None

        async def lookup() -> Row | None:
            return await self._ctx.db.fetch_one(
                sa.select(
                    t.files.c.filename,
                    t.files.c.sha256,
                    t.files.c.size,
                    t.files.c.metadata_sha256,
                    t.files.c.metadata_trusted,
                )
                .join(t.packages, t.packages.c.id == t.files.c.package_id)
                .where(
                    t.files.c.id == file_id,
                    t.files.c.repository_id == self.record.id,
                    t.packages.c.status != "quarantined",
                )
            )

        return await self._ctx.memo.get(("hosted-file", self.record.id, file_id), lookup)


def _entry(row: Row, project: str) -> FileEntry:
    yanked: str | bool = (row["yanked_reason"] or "") if row["yanked"] else False
    trusted = bool(row["metadata_sha256"]) and row["metadata_trusted"]
    resolver = ResolverMetadata(
        tuple(row["requires_dist"]), tuple(row["requires_external"]), tuple(row["provides_extra"])
    )
    return FileEntry(
        filename=row["filename"],
        url=file_link(row["id"], row["filename"]),
        sha256=row["sha256"],
        size=row["size"],
        upload_time=row["created_at"],
        requires_python=row["requires_python"],
        yanked=yanked,
        core_metadata=row["metadata_sha256"] if trusted else False,
        file_id=row["id"],
        resolver=resolver if trusted else None,
        provenance=provenance_link(project, row["version"], row["filename"]) if row["attested_by"] else None,
    )
