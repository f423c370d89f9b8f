"""Content-addressed blobs in a local directory: ``ab/cd/<sha256>``, written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread

from qarion_pypi.storage.base import (
    BlobEntry,
    IncomingBlob,
    StoredBlob,
    blob_key,
    full_disk_refused,
    is_digest,
    sweep_staging_dir,
)

_CHUNK = 1024 * 1024


class FilesystemBlobStore:
    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / ".incoming"
        self.staging.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def _directory_for(self, sha256: str) -> Path:
        return self.path_for(sha256).parent

    def incoming(self, *, sha256_only: bool = False) -> IncomingBlob:
        return IncomingBlob(self.staging, sha256_only=sha256_only, placed_in=self._directory_for)

    async def commit(self, blob: IncomingBlob) -> None:
        assert blob.digests is not None, "finish() the blob before committing it"
        target = self.path_for(blob.digests.sha256)
        await anyio.to_thread.run_sync(self._place, blob, target)

    @staticmethod
    def _place(blob: IncomingBlob, target: Path) -> None:
        """In one worker thread: the staging file synced and renamed into place, and the rename
        synced (its directory), so a blob that is there after a crash is whole."""
        source = blob.path
        if target.exists():
            blob.discard()
            os.utime(target)  # referenced again: young, so collecting orphans leaves it alone
            return
        blob.sync()
        with full_disk_refused():
            target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def open(self, sha256: str) -> StoredBlob | None:
        path = self.path_for(sha256)
        try:
            size = (await anyio.to_thread.run_sync(path.stat)).st_size
        except FileNotFoundError:
            return None

        async def read(start: int, end: int) -> AsyncIterator[bytes]:
            handle = await anyio.open_file(path, "rb")
            async with handle:
                await handle.seek(start)
                remaining = end - start
                while remaining > 0:
                    chunk = await handle.read(min(_CHUNK, remaining))
                    if not chunk:
                        return
                    remaining -= len(chunk)
                    yield chunk

        return StoredBlob(sha256=sha256, size=size, read=read, path=path)

    @asynccontextmanager
    async def local_copy(self, sha256: str) -> AsyncIterator[Path]:
        path = self.path_for(sha256)
        if not await anyio.to_thread.run_sync(path.exists):
            raise FileNotFoundError(sha256)
        yield path

    async def entries(self) -> AsyncIterator[BlobEntry]:
        """Walked a directory at a time in a worker thread: a million blobs never sit in memory."""
        for first in await anyio.to_thread.run_sync(_subdirectories, self.root):
            for second in await anyio.to_thread.run_sync(_subdirectories, first):
                for entry in await anyio.to_thread.run_sync(_blobs_in, second):
                    yield entry

    async def exists(self, sha256: str) -> bool:
        return await anyio.to_thread.run_sync(self.path_for(sha256).exists)

    async def delete(self, sha256: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.path_for(sha256).unlink(missing_ok=True))

    async def sweep_staging(self, older_than: float) -> int:
        return await anyio.to_thread.run_sync(sweep_staging_dir, self.staging, older_than)

    async def ready(self) -> None:
        """Raise unless a file can be created, synced and removed in the staging directory."""

        def probe() -> None:
            fd, name = tempfile.mkstemp(dir=self.staging, prefix="health-")
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(name)

        await anyio.to_thread.run_sync(probe)


def _subdirectories(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and len(p.name) == 2 and not p.name.startswith("."))


def _blobs_in(directory: Path) -> list[BlobEntry]:
    found = []
    for path in directory.iterdir():
        if is_digest(path.name):
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted while listed
                continue
            found.append(BlobEntry(path.name, stat.st_size, stat.st_mtime))
    return found
