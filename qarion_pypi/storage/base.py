"""The blob store interface and the staging file every incoming blob passes through.

Blobs are named by their SHA-256 and never change. Bytes always arrive through a local staging
file (``IncomingBlob``), hashed in the same pass, because uploads are validated by reading the
archive before they are kept. Stores differ only in where committed blobs live; the interface
names no path, so a store may be a directory, an object store or memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

import anyio.to_thread

from qarion_pypi.errors import InsufficientStorage

T = TypeVar("T")

_FLUSH_AT = 1024 * 1024
# A blob's three digests take about 5 ms per MiB one after another; blake2 goes to a thread of
# its own from this size on, where it saves more than the hand-over costs.
_HASH_BESIDE_AT = 32 * 1024
_HASHING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qarion-hash")
# Up to this size a blob is hashed on the event loop as its chunks arrive (a few tens of
# microseconds each, while the next ones are on their way), and a finished blob of that size is
# still whole in memory: it is finished, and can be read, without a trip to a worker thread and
# back (on a virtual machine whose idle CPUs sleep, 0.3-0.7 ms each).
_IN_MEMORY_UP_TO = 256 * 1024
assert _IN_MEMORY_UP_TO < _FLUSH_AT  # a blob that small was never flushed: its bytes are pending
# Creating a file or a directory and syncing a file wait on the disk (a new inode costs up to
# ~0.7 ms while the disk is busy writing); they run here, beside the request that needs them
# later, instead of on its path: a staging file is created while its first bytes arrive, and
# synced (its blob's directory made) while the upload is validated.
_FILES = ThreadPoolExecutor(max_workers=16, thread_name_prefix="qarion-files")
STAGING_PREFIX = "incoming-"
# Staging files older than this belong to no live upload (an upload that slow is cut off first).
STALE_STAGING_SECONDS = 3600.0


@dataclass(frozen=True)
class Digests:
    size: int
    sha256: str
    md5: str | None  # None when the blob was staged for its sha256 alone
    blake2_256: str | None


class IncomingBlob:
    """A staging file that hashes what it is given in the same pass as writing it.

    Writes are batched to ~1 MiB and done off the event loop (hashlib releases the GIL for large
    buffers), so a 1 GiB upload costs one buffer of memory, never the whole file. Uploads are
    hashed three ways (the upload protocol's digests); a proxied file only needs its sha256, which
    costs a fifth of the three.

    A small blob (up to ``_IN_MEMORY_UP_TO``) is hashed on the event loop as it arrives, and
    finished there in one write; ``read`` reads its bytes from memory.

    The file is created in the background when the first bytes arrive. A store that renames the
    staging file into place says where to (``placed_in``: a blob's directory by its sha256): once
    the digest is known, the file is synced and that directory made in the background, and
    ``sync`` waits for the first.
    """

    def __init__(
        self, staging_dir: Path, *, sha256_only: bool = False, placed_in: Callable[[str], Path] | None = None
    ) -> None:
        # Named now, created off the event loop once bytes arrive (or by the first flush). The
        # name carries this process's id (``sweep_staging_dir``).
        self.path = staging_dir / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        self._file: BinaryIO | None = None
        self._opening: Future[None] | None = None
        self._placed_in = placed_in
        self._syncing: Future[None] | None = None
        self._pending: list[bytes] = []  # not yet written
        self._pending_size = 0
        self._unhashed: list[bytes] = []  # not yet hashed (the blob outgrew _IN_MEMORY_UP_TO)
        self._memory: bytes | None = None  # a small finished blob's bytes
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._md5 = None if sha256_only else hashlib.md5(usedforsecurity=False)
        self._blake2 = None if sha256_only else hashlib.blake2b(digest_size=32)
        self.digests: Digests | None = None  # once finished: nothing more can be written

    async def write(self, chunk: bytes) -> None:
        assert self.digests is None, "a finished blob takes no more bytes"
        if not chunk:
            return
        if self._opening is None:
            self._opening = _FILES.submit(self._create)
        self._take(chunk)
        if self._pending_size >= _FLUSH_AT:
            await anyio.to_thread.run_sync(self._flush)

    def _take(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        self.size += len(chunk)
        if self.size <= _IN_MEMORY_UP_TO:
            self._hash(chunk, beside=False)
        else:
            self._unhashed.append(chunk)

    def _flush(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        self._hash(b"".join(self._unhashed), beside=True)
        self._unhashed.clear()
        with full_disk_refused():
            self._ensure_file()
            self._write(data)

    def _hash(self, data: bytes, *, beside: bool) -> None:
        """``beside``: in a worker thread, large buffers may have blake2 hashed in another."""
        if not data:
            return
        if self._md5 is not None and self._blake2 is not None:
            # hashlib lets go of the GIL for large buffers: blake2 runs beside md5 and sha256
            other = _HASHING.submit(self._blake2.update, data) if beside and len(data) >= _HASH_BESIDE_AT else None
            self._sha256.update(data)
            self._md5.update(data)
            if other is None:
                self._blake2.update(data)
            else:
                other.result()
        else:
            self._sha256.update(data)

    def _ensure_file(self) -> None:
        """The staging file, created now or by its creation in the background."""
        if self._file is None:
            if self._opening is None:
                self._create()
            else:
                self._opening.result()

    def _create(self) -> None:
        try:
            self._file = self.path.open("xb")  # closed by sync or discard
        except FileNotFoundError:  # the staging directory went away (or was never made)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("xb")

    def _write(self, data: bytes) -> None:
        """The one place staged bytes reach the disk (a test's full disk replaces it)."""
        assert self._file is not None
        self._file.write(data)

    async def finish(self) -> Digests:
        """Every byte written to the file and hashed: the digests (later calls return them). A
        small blob, hashed as it arrived and still whole in memory, is finished on the event loop
        (one write to the page cache, as SQLite's commits are) and ``read`` reads its bytes from
        memory; a large one is written and hashed to its end in a worker thread. The file is
        synced in the background, and waited for only when a store places it (``sync``), so a
        caller can check a published hash, or validate an upload, before any sync is waited
        for."""
        if self.digests is None:
            if self.size <= _IN_MEMORY_UP_TO:  # hashed as it arrived, every byte still pending
                await self._finish_in_memory()
            else:
                await anyio.to_thread.run_sync(self._finish_and_get_ready)
        assert self.digests is not None
        return self.digests

    async def _finish_in_memory(self) -> None:
        if self._opening is not None and not self._opening.done():  # created in the background
            await asyncio.wait([asyncio.wrap_future(self._opening)])
        self._memory = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        with full_disk_refused():
            self._ensure_file()
            self._write(self._memory)
            assert self._file is not None
            self._file.flush()
        self.digests = self._digests()
        self._get_ready()

    async def read(self, read: Callable[[Path | BinaryIO], T], *, quick: Callable[[bytes], bool] | None = None) -> T:
        """``read`` the finished blob: a small one from memory (on the event loop when ``quick``
        says that costs less than a trip to a worker thread and back), a large one from its file
        in a worker thread."""
        assert self.digests is not None, "finish() the blob first"
        if self._memory is not None:
            if quick is not None and quick(self._memory):
                return read(io.BytesIO(self._memory))
            return await anyio.to_thread.run_sync(read, io.BytesIO(self._memory))
        return await anyio.to_thread.run_sync(read, self.path)

    def stage_file(self, source: Path, chunk_size: int = _FLUSH_AT) -> Digests:
        """Blocking (call it in a worker thread): the whole of a local file, staged and finished
        in one go, as ``write``s and ``finish`` would (``qarion-pypi load``)."""
        with source.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                self._take(chunk)
                self._flush()
        self._finish_and_get_ready()
        assert self.digests is not None
        return self.digests

    def _finish_and_get_ready(self) -> None:
        self._finish()
        self._get_ready()

    def _finish(self) -> None:
        self._flush()  # creates the file even for an empty blob
        assert self._file is not None
        with full_disk_refused():
            self._file.flush()  # readable through its path from here on
        self.digests = self._digests()

    def _digests(self) -> Digests:
        return Digests(
            size=self.size,
            sha256=self._sha256.hexdigest(),
            md5=self._md5.hexdigest() if self._md5 is not None else None,
            blake2_256=self._blake2.hexdigest() if self._blake2 is not None else None,
        )

    def _get_ready(self) -> None:
        """In the background, the file synced (on a copy of its descriptor: a discard may close
        it meanwhile) and its blob's directory made, when its store renames it into place."""
        if self._placed_in is None:
            return
        assert self._file is not None and self.digests is not None, "only once finished"
        self._syncing = _FILES.submit(_sync_and_close, os.dup(self._file.fileno()))
        _FILES.submit(_make_directory, self._placed_in(self.digests.sha256))

    def sync(self) -> None:
        """Blocking (a store calls it in its worker thread, before the file becomes a blob): the
        finished file synced to disk and closed."""
        assert self._file is not None and self.digests is not None, "finish() the blob before syncing it"
        if not self._file.closed:
            with full_disk_refused():
                if self._syncing is not None:
                    self._syncing.result()
                else:
                    os.fsync(self._file.fileno())
            self._file.close()

    def discard(self) -> None:
        """Close and remove the staging file. A creation still queued never happens; one under
        way (a single ``open``) is waited for, so nothing is left once this returns."""
        if self._opening is not None and not self._opening.cancel():
            futures.wait([self._opening])
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._memory = None
        self.path.unlink(missing_ok=True)


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_directory(path: Path) -> None:
    with contextlib.suppress(OSError):  # placing the blob makes it again, and says what failed
        path.mkdir(parents=True, exist_ok=True)


@contextmanager
def full_disk_refused() -> Iterator[None]:
    """A full disk (or quota) becomes a 507 that says so, instead of a bare server error."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage() from exc
        raise


_SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")


def is_digest(name: str) -> bool:
    return _SHA256.match(name) is not None


def blob_key(sha256: str) -> str:
    """Where a blob lives inside a store, ``ab/cd/<sha256>``; refuses anything but a digest."""
    if not is_digest(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


# (start, end): the bytes [start, end) of a blob, as they are read.
Reader = Callable[[int, int], AsyncIterator[bytes]]


@dataclass(frozen=True)
class BlobEntry:
    """A blob as the store lists it."""

    sha256: str
    size: int
    modified: float  # seconds since the epoch: when it was stored, or last stored again


@dataclass(frozen=True)
class StoredBlob:
    """A committed blob, ready to be read: its size and a reader of byte ranges. ``path`` is set
    when the bytes are in a local file, which lets a response send them from a memory map;
    ``redirect`` when the store serves them to clients itself (a short-lived presigned URL)."""

    sha256: str
    size: int
    read: Reader
    path: Path | None = None
    redirect: str | None = None


class BlobStore(Protocol):
    """Where file bytes live, addressed by their SHA-256."""

    name: str

    def incoming(self, *, sha256_only: bool = False) -> IncomingBlob:
        """A new staging file for bytes about to arrive (hashed for their sha256 alone, or also
        for the upload protocol's md5 and blake2)."""

    async def commit(self, blob: IncomingBlob) -> None:
        """Make a finished staging file the blob of its SHA-256 and remove the staging file.
        Create-only: an existing blob of that SHA-256 is kept as it is."""

    async def open(self, sha256: str) -> StoredBlob | None:
        """The blob, or None when the store does not have it."""

    def local_copy(self, sha256: str) -> AbstractAsyncContextManager[Path]:
        """A local file with the blob's bytes for as long as the context lasts (to read an
        archive); FileNotFoundError when the store does not have it."""

    async def exists(self, sha256: str) -> bool: ...

    def entries(self) -> AsyncIterator[BlobEntry]:
        """Every blob the store holds, in no particular order."""

    async def delete(self, sha256: str) -> None:
        """Remove a blob; missing blobs are not an error."""

    async def sweep_staging(self, older_than: float) -> int:
        """Remove staging files a crashed process left behind; returns how many went."""

    async def ready(self) -> None:
        """Raise when the store cannot be used."""


def sweep_staging_dir(staging: Path, older_than: float) -> int:
    """Remove staging files whose process is gone, or untouched for ``older_than`` seconds
    (blocking: run it in a thread). Each file's name carries the id of the process that writes
    it; another live process sharing the directory keeps its own."""
    cutoff = time.time() - older_than
    removed = 0
    for path in staging.glob(STAGING_PREFIX + "*"):
        try:
            if not _owner_alive(path.name) or path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _owner_alive(name: str) -> bool:
    owner = name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
    if not owner.isdigit():
        return True  # named by an older release: left to the age rule
    if int(owner) == os.getpid():
        return True
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, alive
        return True
    return True
