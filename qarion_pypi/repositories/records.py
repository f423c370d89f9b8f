"""What a repository is: its typed record, its kind and kind settings, and the queries that load it.

Every service and route works with ``RepositoryRecord`` rather than database rows, so a kind is
an enum and a proxy's settings exist only on proxies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from qarion_pypi.db import Database, Row, grouped
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import NotFound

CLIENT_ROOT = "/pypi/spaces"


class RepositoryKind(StrEnum):
    HOSTED = "hosted"
    PROXY = "proxy"
    VIRTUAL = "virtual"


class FileMode(StrEnum):
    """How a proxy hands files to clients: through itself (cached), or by redirecting upstream."""

    STREAM = "stream"
    REDIRECT = "redirect"


DEFAULT_CACHE_TTL = 3600


@dataclass(frozen=True)
class ProxySettings:
    remote_url: str
    cache_ttl: int
    file_mode: FileMode
    upstream_username: str | None
    upstream_password: str | None  # sealed (auth/sealing.py): opened only to send it upstream


@dataclass(frozen=True)
class VirtualSettings:
    merge: bool
    upload_target_id: str | None


@dataclass(frozen=True)
class Cooldown:
    """Release cooldown: upstream files younger than ``min_release_age`` seconds (by the upstream's
    upload time) are hidden; so are files without an upload time unless ``allow_undated``;
    ``allow`` names reviewed releases (``name==version``, normalized) let through at once."""

    min_release_age: int = 0
    allow: frozenset[str] = frozenset()
    allow_undated: bool = False

    @classmethod
    def from_json(cls, value: Any) -> Cooldown | None:
        if not isinstance(value, dict) or not value.get("min_release_age"):
            return None
        return cls(int(value["min_release_age"]), frozenset(value.get("allow") or ()), bool(value.get("allow_undated")))

    def as_json(self) -> dict[str, Any]:
        return {
            "min_release_age": self.min_release_age,
            "allow": sorted(self.allow),
            "allow_undated": self.allow_undated,
        }


@dataclass(frozen=True)
class RepositoryRecord:
    id: str
    space_id: str
    space_slug: str
    project_scope_id: str | None
    project_scope_slug: str | None
    project_scope_name: str | None
    kind: RepositoryKind
    name: str
    slug: str
    description: str
    is_active: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by_id: str | None
    updated_by_id: str | None
    # Bumped by every change to the repository's contents: keys page caches and ETags.
    serial: int
    proxy: ProxySettings | None = None
    virtual: VirtualSettings | None = None
    # "public": client endpoints answer without credentials
    visibility: str = "private"
    require_attestations: bool = False  # hosted: refuse uploads without a verified PEP 740 attestation
    cooldown: Cooldown | None = None  # proxy and virtual: upstream releases wait before clients see them

    @classmethod
    def from_row(cls, row: Row) -> RepositoryRecord:
        kind = RepositoryKind(row["kind"])
        proxy = virtual = None
        if kind is RepositoryKind.PROXY:
            proxy = ProxySettings(
                remote_url=row["remote_url"],
                cache_ttl=DEFAULT_CACHE_TTL if row["cache_ttl"] is None else row["cache_ttl"],
                file_mode=FileMode(row["file_mode"] or FileMode.STREAM),
                upstream_username=row["upstream_username"],
                upstream_password=row["upstream_password"],
            )
        elif kind is RepositoryKind.VIRTUAL:
            virtual = VirtualSettings(merge=bool(row["merge"]), upload_target_id=row["upload_target_id"])
        return cls(
            id=row["id"],
            space_id=row["space_id"],
            space_slug=row["space_slug"],
            project_scope_id=row["project_scope_id"],
            project_scope_slug=row["project_scope_slug"],
            project_scope_name=row["project_scope_name"],
            kind=kind,
            name=row["name"],
            slug=row["slug"],
            description=row["description"],
            is_active=bool(row["is_active"]),
            archived_at=row["archived_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            created_by_id=row["created_by_id"],
            updated_by_id=row["updated_by_id"],
            serial=row["serial"],
            proxy=proxy,
            virtual=virtual,
            visibility=row["visibility"],
            require_attestations=bool(row["require_attestations"]),
            cooldown=Cooldown.from_json(row["cooldown"]) if kind is not RepositoryKind.HOSTED else None,
        )

    @property
    def client_path(self) -> str:
        """The root of the repository's client URLs (below ``/api/v1.0``), without a trailing slash.

        ``simple/``, ``legacy/`` and the ``files/`` links of its pages all live below it, so pip
        and uv send each index's own credentials with every request they make for it."""
        project = f"/projects/{self.project_scope_slug}" if self.project_scope_slug else ""
        return f"{CLIENT_ROOT}/{self.space_slug}{project}/repositories/{self.slug}"

    @property
    def page_path(self) -> str:
        """The repository's page in the web interface: its client root without ``/api/v1.0/pypi``."""
        return self.client_path.removeprefix("/pypi") + "/"

    def upload_refusal(self) -> str | None:
        """Why this repository takes no uploads itself, or None when it does.

        Archived and inactive repositories are read-only: they still serve installs (pinned
        builds keep working) but take no new files. Proxies mirror another index; a virtual
        repository accepts uploads only through its hosted upload target."""
        if self.archived_at is not None:
            return f"Repository {self.slug!r} is archived and does not accept uploads."
        if not self.is_active:
            return f"Repository {self.slug!r} is inactive and does not accept uploads."
        if self.kind is RepositoryKind.PROXY:
            return f"Repository {self.slug!r} is a proxy of another index and does not accept uploads."
        if self.kind is RepositoryKind.VIRTUAL and not (self.virtual and self.virtual.upload_target_id):
            return f"Repository {self.slug!r} is virtual and names no upload target."
        return None


def query() -> sa.Select[Any]:
    """Repositories with their space's slug and their scope's slug and name (NULL if space-wide)."""
    return (
        sa.select(
            t.repositories,
            t.spaces.c.slug.label("space_slug"),
            t.project_scopes.c.slug.label("project_scope_slug"),
            t.project_scopes.c.name.label("project_scope_name"),
        )
        .join(t.spaces, t.spaces.c.id == t.repositories.c.space_id)
        .outerjoin(t.project_scopes, t.project_scopes.c.id == t.repositories.c.project_scope_id)
    )


# The hot path's lookups, built once (db/statements.py): by id, and by a client URL's slugs.
_BY_ID = query().where(t.repositories.c.id == sa.bindparam("repository"))
_BY_SLUGS = query().where(
    t.spaces.c.slug == sa.bindparam("space"), t.repositories.c.slug == sa.bindparam("slug"),
    t.repositories.c.scope_key == "",
)  # fmt: skip
_BY_PROJECT_SLUGS = query().where(
    t.spaces.c.slug == sa.bindparam("space"), t.repositories.c.slug == sa.bindparam("slug"),
    t.project_scopes.c.slug == sa.bindparam("project"),
)  # fmt: skip


async def _one(db: Database, statement: sa.Select[Any], params: dict[str, Any] | None = None) -> RepositoryRecord:
    row = await db.fetch_one(statement, params, quick=True)  # by id or by slugs: unique indexes
    if row is None:
        raise NotFound("Repository not found.")
    return RepositoryRecord.from_row(row)


async def load(db: Database, repository_id: str) -> RepositoryRecord:
    if not is_uuid(repository_id):
        raise NotFound("Repository not found.")
    return await _one(db, _BY_ID, {"repository": repository_id})


async def in_space(db: Database, space_id: str, repository_id: str) -> RepositoryRecord:
    """A repository of this space by id; NotFound for another space's."""
    if not is_uuid(repository_id):
        raise NotFound("Repository not found.")
    return await _one(db, query().where(t.repositories.c.id == repository_id, t.repositories.c.space_id == space_id))


async def by_client_path(
    db: Database, space_slug: str, repository_slug: str, project_slug: str | None = None
) -> RepositoryRecord:
    """A repository by its client URL's slugs (project-scoped when ``project_slug`` is given)."""
    if project_slug is None:
        return await _one(db, _BY_SLUGS, {"space": space_slug, "slug": repository_slug})
    return await _one(db, _BY_PROJECT_SLUGS, {"space": space_slug, "slug": repository_slug, "project": project_slug})


async def public(db: Database) -> list[RepositoryRecord]:
    """Every public repository that is not archived, for visitors who are not signed in."""
    statement = query().where(t.repositories.c.visibility == "public", t.repositories.c.archived_at.is_(None))
    rows = await db.fetch_all(statement.order_by(t.spaces.c.slug, t.repositories.c.scope_key, t.repositories.c.slug))
    return [RepositoryRecord.from_row(row) for row in rows]


async def list_in_space(db: Database, space_id: str, *, include_archived: bool = False) -> list[RepositoryRecord]:
    statement = query().where(t.repositories.c.space_id == space_id)
    if not include_archived:
        statement = statement.where(t.repositories.c.archived_at.is_(None))
    rows = await db.fetch_all(statement.order_by(t.repositories.c.scope_key, t.repositories.c.slug))
    return [RepositoryRecord.from_row(row) for row in rows]


async def member_ids(db: Database, virtual_ids: list[str]) -> dict[str, list[str]]:
    """Each virtual repository's member ids, highest priority first."""
    if not virtual_ids:
        return {}
    rows = await db.fetch_all(
        sa.select(t.repository_members)
        .where(t.repository_members.c.virtual_id.in_(virtual_ids))
        .order_by(t.repository_members.c.position)
    )
    return grouped(rows, virtual_ids, "virtual_id", "member_id")


async def members(db: Database, record: RepositoryRecord) -> list[RepositoryRecord]:
    """A virtual repository's members, highest priority first."""
    order = (await member_ids(db, [record.id]))[record.id]
    rows = await db.fetch_all(query().where(t.repositories.c.id.in_(order))) if order else []
    by_id = {row["id"]: RepositoryRecord.from_row(row) for row in rows}
    return [by_id[member_id] for member_id in order if member_id in by_id]


_TOUCH = (
    t.repositories.update()
    .where(t.repositories.c.id == sa.bindparam("repository"))
    .values(
        serial=t.repositories.c.serial + 1,
        updated_at=sa.bindparam("now"),
        updated_by_id=sa.func.coalesce(sa.bindparam("user", type_=sa.String), t.repositories.c.updated_by_id),
    )
)


async def touch(db: Database, repository_id: str, user_id: str | None) -> None:
    """Record a change to the repository's contents: a new serial, so caches and ETags move on."""
    await db.execute(_TOUCH, {"repository": repository_id, "now": utcnow(), "user": user_id})


@dataclass(frozen=True)
class FileRecord:
    """A hosted distribution file, as every service and response sees it."""

    id: str
    repository_id: str
    package_id: str
    filename: str
    version: str
    distribution_type: str
    python_version: str
    requires_python: str | None
    summary: str
    requires_dist: list[str]
    size: int
    sha256: str
    md5: str
    blake2_256: str
    content_type: str
    storage_backend: str
    # Core metadata (PEP 658), a row of core_metadata; None when the file has none.
    metadata_sha256: str | None
    # May resolvers use it instead of the file (PEP 643 for sdists)?
    metadata_trusted: bool
    requires_external: list[str]
    provides_extra: list[str]
    yanked: bool
    yanked_reason: str | None
    yanked_at: datetime | None
    uploaded_by_id: str | None
    created_at: datetime
    # provenance: "upload", or "import" with where the file came from
    source: str
    upstream_url: str | None
    upstream_upload_time: datetime | None
    upstream_sha256: str | None
    scan_status: str
    scan_max_severity: str | None
    scan_finding_count: int
    publisher: dict[str, Any] | None = None  # the trusted publisher of a minted-token upload
    attested_by: dict[str, Any] | None = None  # the PEP 740 publisher whose attestation verified
    promoted_from: dict[str, Any] | None = None  # where a promoted file came from
    uploaded_by: str | None = None  # the uploader's username, when the query joined it

    @classmethod
    def from_row(cls, row: Row) -> FileRecord:
        return cls(**{name: row[name] for name in _FILE_FIELDS if name in row})


_FILE_FIELDS = tuple(FileRecord.__dataclass_fields__)


def file_query() -> sa.Select[Any]:
    """Files with their uploader's name: what every file record shows."""
    return sa.select(t.files, t.users.c.username.label("uploaded_by")).outerjoin(
        t.users, t.users.c.id == t.files.c.uploaded_by_id
    )


async def owner_of_file(db: Database, file_id: str) -> RepositoryRecord:
    """The repository holding a hosted file or a proxy's file with this id."""
    if is_uuid(file_id):
        hosted = sa.select(t.files.c.repository_id).where(t.files.c.id == file_id)
        proxied = sa.select(t.proxy_files.c.repository_id).where(t.proxy_files.c.id == file_id)
        row = await db.fetch_one(sa.union_all(hosted, proxied).limit(1))
        if row is not None:
            return await load(db, row["repository_id"])
    raise NotFound("File not found.")
