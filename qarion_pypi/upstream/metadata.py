"""A distribution's core metadata from an upstream, fetching as little as possible.

In order: the PEP 658 ``.metadata`` file when the index offers it (checked against its hash);
for wheels, HTTP range requests for the zip's central directory and the one METADATA member;
and only then the whole file (bounded). ``zipfile`` reads from a sparse file that knows just the
ranges fetched so far; touching an unknown range asks for it and tries again.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from qarion_pypi.distributions.archives import ArchiveLimits, read_core_metadata
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest
from qarion_pypi.simple.model import FileEntry
from qarion_pypi.storage import IncomingBlob
from qarion_pypi.upstream.download import download
from qarion_pypi.upstream.http import AuthedClient, Reply, UpstreamError

TAIL = 64 * 1024
MIN_FETCH = 64 * 1024
MAX_ROUNDS = 8


class _Missing(Exception):
    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end


class SparseFile(io.RawIOBase):
    """A read-only file of known size of which only some byte ranges are present."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ranges: list[tuple[int, bytes]] = []
        self._position = 0

    def add(self, start: int, data: bytes) -> None:
        self._ranges.append((start, data))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self._position + size)
        if end <= self._position:
            return b""
        for start, data in self._ranges:
            if start <= self._position and end <= start + len(data):
                chunk = data[self._position - start : end - start]
                self._position = end
                return chunk
        raise _Missing(self._position, end)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class MetadataSource:
    """How the metadata was obtained: ``pep658``, ``range`` or ``download``."""

    raw: bytes
    via: str


async def fetch_metadata(
    client: AuthedClient, entry: FileEntry, limits: ArchiveLimits, max_download: int
) -> MetadataSource:
    if entry.core_metadata:
        try:
            return MetadataSource(await pep658(client, entry, limits), "pep658")
        except UpstreamError:
            pass  # the index's metadata file is missing or wrong: read the distribution itself
    if entry.filename.endswith(".whl"):
        raw = await _by_ranges(client, entry, limits)
        if raw is not None:
            return MetadataSource(raw, "range")
    return MetadataSource(await _by_download(client, entry, limits, max_download), "download")


async def pep658(client: AuthedClient, entry: FileEntry, limits: ArchiveLimits) -> bytes:
    """The index's ``.metadata`` file for ``entry``, bounded and checked against its published hash."""
    reply = await client.fetch(entry.url + ".metadata", max_bytes=limits.max_metadata_bytes)
    if reply.status != 200:
        raise UpstreamError(f"the upstream answered {reply.status} for the metadata of {entry.filename}")
    if isinstance(entry.core_metadata, str) and hashlib.sha256(reply.body).hexdigest() != entry.core_metadata:
        raise UpstreamError(f"the metadata of {entry.filename} does not match its published sha256")
    return reply.body


async def _by_ranges(client: AuthedClient, entry: FileEntry, limits: ArchiveLimits) -> bytes | None:
    size = entry.size or await _content_length(client, entry.url)
    if not size:
        return None
    sparse = SparseFile(size)
    if not await _fetch_range(client, entry.url, sparse, max(0, size - TAIL), size):
        return None
    dist = parse_dist_filename(entry.filename)
    for _ in range(MAX_ROUNDS):
        try:
            return _read_member(sparse, dist.filename, limits)
        except _Missing as missing:
            start = missing.start
            if not await _fetch_range(client, entry.url, sparse, start, min(size, max(missing.end, start + MIN_FETCH))):
                return None
    return None


def _read_member(sparse: SparseFile, filename: str, limits: ArchiveLimits) -> bytes:
    """METADATA of the wheel in ``sparse`` (the same member rules as for uploads, minus the
    checks that need the whole archive, which the import's own upload validation repeats)."""
    try:
        with zipfile.ZipFile(sparse) as archive:
            members = [info for info in archive.infolist() if info.filename.endswith(".dist-info/METADATA")]
            matching = [m for m in members if m.filename.count("/") == 1]
            if len(matching) != 1 or matching[0].file_size > limits.max_metadata_bytes:
                raise BadRequest(f"Wheel '{filename}' has no single readable METADATA file.")
            return archive.read(matching[0])
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise BadRequest(f"Wheel '{filename}' is not a valid ZIP archive ({exc.__class__.__name__}).") from None


async def _ranged(client: AuthedClient, url: str, start: int, end: int) -> Reply | None:
    """The bytes [start, end) as a 206, or None: an upstream without ranges answers the whole
    file, which the bound cuts off (the caller then downloads it the bounded way)."""
    try:
        reply = await client.fetch(url, headers={"Range": f"bytes={start}-{end - 1}"}, max_bytes=end - start)
    except UpstreamError:
        return None
    return reply if reply.status == 206 and len(reply.body) == end - start else None


async def _content_length(client: AuthedClient, url: str) -> int:
    reply = await _ranged(client, url, 0, 1)
    total = reply.headers.get("content-range", "").rpartition("/")[2] if reply else ""
    return int(total) if total.isdigit() else 0


async def _fetch_range(client: AuthedClient, url: str, sparse: SparseFile, start: int, end: int) -> bool:
    reply = await _ranged(client, url, start, end)
    if reply is None:
        return False  # no range support: the caller falls back to a full download
    sparse.add(start, reply.body)
    return True


async def _by_download(client: AuthedClient, entry: FileEntry, limits: ArchiveLimits, max_download: int) -> bytes:
    """The whole file, fetched into a temporary staging file (bounded, hash-checked), then read locally."""
    blob = IncomingBlob(Path(tempfile.gettempdir()))
    try:
        await download(client, entry.url, blob, max_bytes=max_download, sha256=entry.sha256, name=entry.filename)
        dist = parse_dist_filename(entry.filename)
        return await blob.read(lambda source: read_core_metadata(source, dist, limits))
    finally:
        blob.discard()
