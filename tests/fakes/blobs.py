"""A blob store that keeps committed blobs in memory (staging is still a local file, as for every store)."""

from __future__ import annotations

import errno
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from qarion_pypi.storage import IncomingBlob, StoredBlob
from qarion_pypi.storage.base import BlobEntry, blob_key, sweep_staging_dir


class MemoryBlobStore:
    name = "memory"

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.blobs: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}

    def incoming(self, *, sha256_only: bool = False) -> IncomingBlob:
        return IncomingBlob(self.staging, sha256_only=sha256_only)

    async def commit(self, blob: IncomingBlob) -> None:
        assert blob.digests is not None
        self.blobs.setdefault(blob.digests.sha256, blob.path.read_bytes())
        self.modified[blob.digests.sha256] = time.time()
        blob.discard()

    async def open(self, sha256: str) -> StoredBlob | None:
        data = self.blobs.get(blob_key(sha256).rsplit("/", 1)[-1])
        if data is None:
            return None

        async def read(start: int, end: int) -> AsyncIterator[bytes]:
            yield data[start:end]

        return StoredBlob(sha256=sha256, size=len(data), read=read)

    @asynccontextmanager
    async def local_copy(self, sha256: str) -> AsyncIterator[Path]:
        if sha256 not in self.blobs:
            raise FileNotFoundError(sha256)
        with tempfile.NamedTemporaryFile(dir=self.staging) as handle:
            handle.write(self.blobs[sha256])
            handle.flush()
            yield Path(handle.name)

    async def entries(self) -> AsyncIterator[BlobEntry]:
        for sha256, data in list(self.blobs.items()):
            yield BlobEntry(sha256, len(data), self.modified[sha256])

    async def exists(self, sha256: str) -> bool:
        return sha256 in self.blobs

    async def delete(self, sha256: str) -> None:
        self.blobs.pop(sha256, None)
        self.modified.pop(sha256, None)

    async def sweep_staging(self, older_than: float) -> int:
        return sweep_staging_dir(self.staging, older_than)

    async def ready(self) -> None:
        pass


class _FillingBlob(IncomingBlob):
    def __init__(self, staging: Path, store: FullDiskBlobStore, *, sha256_only: bool = False) -> None:
        super().__init__(staging, sha256_only=sha256_only)
        self._store = store

    def _write(self, data: bytes) -> None:
        if self._store.free < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        self._store.free -= len(data)
        super()._write(data)


class FullDiskBlobStore(MemoryBlobStore):
    """A store on a disk with ``free`` bytes left; writing past them fails as a full disk does."""

    def __init__(self, staging: Path, free: int) -> None:
        super().__init__(staging)
        self.free = free

    def incoming(self, *, sha256_only: bool = False) -> IncomingBlob:
        return _FillingBlob(self.staging, self, sha256_only=sha256_only)


class BrokenBlobStore(MemoryBlobStore):
    """A store whose commits fail the way no code path expects: a server error, not a refusal."""

    async def commit(self, blob: IncomingBlob) -> None:
        blob.discard()
        raise RuntimeError("the disk controller is on fire")
