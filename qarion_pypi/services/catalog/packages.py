"""Reading packages, their versions and files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, NotFound
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import FileRecord, RepositoryKind, RepositoryRecord, file_query


@dataclass
class PackageView:
    package: Row
    files: list[FileRecord] = field(default_factory=list)

    @property
    def versions(self) -> list[str]:
        """Every version with a file, newest first."""
        return sorted({f.version for f in self.files}, key=version_key, reverse=True)

    @property
    def latest(self) -> FileRecord | None:
        """The newest non-yanked final release's file, else the newest non-yanked, else None."""
        live = [f for f in self.files if not f.yanked]
        finals = [f for f in live if not version_key(f.version).is_prerelease]
        pool = finals or live
        return max(pool, key=lambda f: version_key(f.version)) if pool else None

    @property
    def latest_version(self) -> str | None:
        latest = self.latest
        return latest.version if latest else None

    @property
    def summary(self) -> str:
        latest = self.latest
        return latest.summary if latest else str(self.package["summary"])


def version_key(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:  # stored versions were validated on upload; keep sorting total anyway
        return Version("0")


async def list_packages(ctx: Context, repository: RepositoryRecord) -> list[PackageView]:
    packages = await ctx.db.fetch_all(
        sa.select(t.packages).where(t.packages.c.repository_id == repository.id).order_by(t.packages.c.normalized_name)
    )
    files = await ctx.db.fetch_all(file_query().where(t.files.c.repository_id == repository.id))
    return _group(packages, [FileRecord.from_row(row) for row in files])


async def get_package(ctx: Context, repository: RepositoryRecord, name: str) -> PackageView:
    package = await ctx.db.fetch_one(
        sa.select(t.packages).where(
            t.packages.c.repository_id == repository.id,
            t.packages.c.normalized_name == canonicalize_name(name),
        )
    )
    if package is None:
        raise NotFound(f"Package {name!r} not found.")
    return await view_of(ctx, package)


async def view_of(ctx: Context, package: Row) -> PackageView:
    """A package with every one of its files."""
    files = await ctx.db.fetch_all(
        file_query().where(t.files.c.package_id == package["id"]).order_by(t.files.c.filename)
    )
    return PackageView(package, [FileRecord.from_row(row) for row in files])


def _group(packages: Iterable[Row], files: Iterable[FileRecord]) -> list[PackageView]:
    by_package: dict[str, list[FileRecord]] = defaultdict(list)
    for file in files:
        by_package[file.package_id].append(file)
    return [PackageView(p, sorted(by_package[p["id"]], key=lambda f: f.filename)) for p in packages]


async def names_held(ctx: Context, repository: RepositoryRecord, names: Iterable[str]) -> set[str]:
    """Which of these normalized names the repository holds a package of."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    rows = await ctx.db.fetch_all(
        sa.select(t.packages.c.normalized_name).where(
            t.packages.c.repository_id == repository.id, t.packages.c.normalized_name.in_(wanted)
        )
    )
    return {row["normalized_name"] for row in rows}


async def repositories_holding(ctx: Context, name: str) -> list[RepositoryRecord]:
    """Every repository with a package of this name (visibility is the caller's to check)."""
    holding = sa.select(t.packages.c.repository_id).where(t.packages.c.normalized_name == canonicalize_name(name))
    rows = await ctx.db.fetch_all(
        records.query()
        .where(t.repositories.c.id.in_(holding), t.repositories.c.archived_at.is_(None))
        .order_by(t.spaces.c.slug, t.repositories.c.scope_key, t.repositories.c.slug)
    )
    return [RepositoryRecord.from_row(row) for row in rows]


async def set_status(
    ctx: Context, principal: Principal, repository: RepositoryRecord, name: str, status: str, reason: str | None
) -> PackageView:
    """PEP 792: mark a package active, archived, deprecated or quarantined (hosted only)."""
    if repository.kind is not RepositoryKind.HOSTED:
        raise Conflict(
            f"Repository {repository.slug!r} is {repository.kind.value}: statuses are set where packages are hosted."
        )
    async with ctx.db.transaction():
        package = (await get_package(ctx, repository, name)).package
        await ctx.db.execute(
            t.packages.update()
            .where(t.packages.c.id == package["id"])
            .values(status=status, status_reason=reason or None, updated_at=utcnow())
        )
        await records.touch(ctx.db, repository.id, principal.user_id)
    return await get_package(ctx, repository, name)


def upload_refusal(package: Row) -> str | None:
    """Why a package takes no new files (PEP 792), or None."""
    if package["status"] in ("archived", "quarantined"):
        return f"Project {package['name']!r} is {package['status']} and does not accept uploads."
    return None
