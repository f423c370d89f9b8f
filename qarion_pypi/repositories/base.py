"""The one interface every repository answers clients through, whatever its kind.

Hosted, proxy and virtual repositories implement it; wrappers (scan blocking, and later release
cooldown and project status) take one and give one back, as simple-repository's components do.
Links in the pages a repository produces are relative to its client root
(``files/<id>/<filename>``), so a virtual repository can pass its members' entries through and
every client fetches files under the index URL it has credentials for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from packaging.utils import NormalizedName

from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.simple.model import ProjectList, ProjectPage

METADATA_SUFFIX = ".metadata"
# Work a resource leaves until its client has the whole answer (or the answer broke off): keeping
# what a proxy fetched. It never raises; it logs.
Settle = Callable[[], Awaitable[None]]


def file_link(file_id: str, filename: str) -> str:
    """A file's link relative to its repository's client root."""
    return f"files/{file_id}/{quote(filename)}"


def provenance_link(project: str, version: str, filename: str) -> str:
    """A file's PEP 740 provenance (the Integrity API), relative to its repository's client root."""
    return f"integrity/{quote(project)}/{quote(version)}/{quote(filename)}/provenance"


@dataclass(frozen=True)
class BlobResource:
    """Bytes in the blob store, named by their sha256, of ``size`` bytes when that is known."""

    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class BytesResource:
    """Small bytes held in memory (core metadata), with the sha256 that names them."""

    body: bytes
    sha256: str
    settle: Settle | None = None


@dataclass(frozen=True)
class RedirectResource:
    url: str


@dataclass(frozen=True)
class StreamResource:
    """Bytes arriving from elsewhere right now (a proxy's first fetch of a file); ``settle``
    runs however the answer ended, and keeps the bytes only if they all arrived and matched."""

    chunks: AsyncIterator[bytes]
    sha256: str
    settle: Settle


Resource = BlobResource | BytesResource | RedirectResource | StreamResource


class Repository(Protocol):
    """What package clients can ask a repository for."""

    @property
    def record(self) -> RepositoryRecord: ...

    def cache_key(self) -> Hashable | None:
        """A key that changes whenever the pages change, or None when they must be rendered each time."""

    async def project_list(self) -> ProjectList: ...

    async def project_page(self, name: NormalizedName) -> ProjectPage | None:
        """None when the repository has no such project."""

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        """A file of one of its pages (``filename``), or that file's core metadata
        (``filename + ".metadata"``); None when there is no such thing here."""
