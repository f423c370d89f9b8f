"""The structures every repository kind produces and both renderers consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# PEP 629 versions: 1.1 (PEP 700) ``versions``, ``size``, ``upload-time``; 1.2 (PEP 708) ``tracks``,
# ``alternate-locations``; 1.3 (PEP 740) ``provenance``; 1.4 (PEP 792) ``project-status``.
API_VERSION = "1.4"
# PEP 792 project status markers: archived takes no uploads; quarantined serves no files either.
PROJECT_STATUSES = ("active", "archived", "deprecated", "quarantined")


@dataclass(frozen=True)
class ProjectEntry:
    name: str
    normalized_name: str


@dataclass(frozen=True)
class ProjectList:
    projects: list[ProjectEntry]


@dataclass(frozen=True)
class ResolverMetadata:
    """What resolvers read from a file's core metadata, carried in JSON pages when the metadata
    can be trusted, so a dependency graph can be read from one page (the Publaryn seed)."""

    requires_dist: tuple[str, ...] = ()
    requires_external: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileEntry:
    filename: str
    # In this server's pages: relative to the repository's client root (``files/<id>/<name>``);
    # in an upstream's pages: absolute.
    url: str
    sha256: str
    size: int
    upload_time: datetime | None = None
    requires_python: str | None = None
    # PEP 592: False, or the reason (possibly empty) the file was yanked.
    yanked: str | bool = False
    # PEP 658/714: metadata is served at ``url + ".metadata"``: its sha256, True when available
    # with no known hash, False when there is none.
    core_metadata: str | bool = False
    # The row behind an entry of this server's pages (hosted file or proxied file); "" upstream.
    file_id: str = ""
    resolver: ResolverMetadata | None = None
    # PEP 740: where the file's provenance is served (relative, like ``url``), None without one.
    provenance: str | None = None


@dataclass(frozen=True)
class ProjectPage:
    name: str
    normalized_name: str
    files: list[FileEntry]
    versions: list[str] = field(default_factory=list)
    # PEP 708: where else this project legitimately lives, and which project it tracks.
    alternate_locations: list[str] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)
    # PEP 792: one of PROJECT_STATUSES, and why (optional, free text).
    status: str = "active"
    status_reason: str | None = None
