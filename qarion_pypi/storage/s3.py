"""Content-addressed blobs in an S3-compatible object store, through obstore.

Keys are ``<prefix>/ab/cd/<sha256>``. Nothing is ever overwritten (see ``commit``); bytes stream
both ways (a staging file goes up in parts, ranges come down as they arrive), so memory stays
bounded whatever a blob's size. Downloads may instead be handed to the store itself with a short-lived presigned
URL. Staging stays a local directory, as for every store: an upload is validated from it before
it is kept.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path

import anyio.to_thread
import obstore
from obstore.exceptions import AlreadyExistsError
from obstore.store import S3Store

from qarion_pypi.config import Settings
from qarion_pypi.errors import Unavailable
from qarion_pypi.storage.base import BlobEntry, IncomingBlob, StoredBlob, blob_key, is_digest, sweep_staging_dir

PART_SIZE = 8 * 1024 * 1024
# Parts in flight at once: what an upload to the store holds in memory (2 x 8 MiB), whatever the
# file's size.
PARTS_AT_ONCE = 2
READ_SIZE = 1024 * 1024
PRESIGNED_FOR = timedelta(minutes=5)


class S3BlobStore:
    name = "s3"

    def __init__(self, settings: Settings, staging: Path) -> None:
        endpoint = settings.s3_endpoint_url or None
        self._store = S3Store(
            settings.s3_bucket,
            endpoint=endpoint,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=settings.s3_secret_access_key or None,
            virtual_hosted_style_request=False,
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )
        self._prefix = settings.s3_prefix.strip("/")
        self._redirect = settings.s3_downloads == "redirect"
        self.staging = staging
        staging.mkdir(parents=True, exist_ok=True)

    def _key(self, sha256: str) -> str:
        path = blob_key(sha256)
        return f"{self._prefix}/{path}" if self._prefix else path

    def incoming(self, *, sha256_only: bool = False) -> IncomingBlob:
        return IncomingBlob(self.staging, sha256_only=sha256_only)

    async def commit(self, blob: IncomingBlob) -> None:
        """A blob of one part is put create-only (the store refuses to replace an object); a
        larger one, when absent, is written in parts, a bounded number in memory at a time.
        Callers hold the blob's lock, so no other writer of the index races the check. The
        staging file is read, never kept, so it is not synced: the store's copy is the one that
        lasts."""
        digests = blob.digests
        assert digests is not None, "finish() the blob before committing it"
        key = self._key(digests.sha256)
        try:
            if digests.size <= PART_SIZE:
                data = await anyio.to_thread.run_sync(blob.path.read_bytes)
                await obstore.put_async(self._store, key, data, mode="create")
            elif not await self.exists(digests.sha256):
                await self._write_in_parts(key, blob.path)
        except AlreadyExistsError:
            pass  # the same bytes are already there: content addressing
        except Exception as exc:
            raise _unavailable(exc) from exc
        blob.discard()

    async def _write_in_parts(self, key: str, path: Path) -> None:
        async with obstore.open_writer_async(
            self._store, key, buffer_size=PART_SIZE, max_concurrency=PARTS_AT_ONCE
        ) as writer:
            with path.open("rb") as source:
                while chunk := await anyio.to_thread.run_sync(source.read, READ_SIZE):
                    await writer.write(chunk)

    async def open(self, sha256: str) -> StoredBlob | None:
        key = self._key(sha256)
        try:
            meta = await obstore.head_async(self._store, key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise _unavailable(exc) from exc

        async def read(start: int, end: int) -> AsyncIterator[bytes]:
            if start >= end:
                return
            result = await obstore.get_async(self._store, key, options={"range": (start, end)})
            async for chunk in result.stream(min_chunk_size=1024 * 1024):
                yield bytes(chunk)

        url = await obstore.sign_async(self._store, "GET", key, PRESIGNED_FOR) if self._redirect else None
        return StoredBlob(sha256=sha256, size=int(meta["size"]), read=read, redirect=url)

    @asynccontextmanager
    async def local_copy(self, sha256: str) -> AsyncIterator[Path]:
        blob = await self.open(sha256)
        if blob is None:
            raise FileNotFoundError(sha256)
        with tempfile.NamedTemporaryFile(dir=self.staging, prefix="copy-") as handle:
            async for chunk in blob.read(0, blob.size):
                await anyio.to_thread.run_sync(handle.write, chunk)
            handle.flush()
            yield Path(handle.name)

    async def exists(self, sha256: str) -> bool:
        try:
            await obstore.head_async(self._store, self._key(sha256))
        except FileNotFoundError:
            return False
        return True

    async def entries(self) -> AsyncIterator[BlobEntry]:
        prefix = f"{self._prefix}/" if self._prefix else None
        async for batch in obstore.list(self._store, prefix=prefix):
            for meta in batch:
                name = str(meta["path"]).rsplit("/", 1)[-1]
                if is_digest(name):
                    yield BlobEntry(name, int(meta["size"]), meta["last_modified"].timestamp())

    async def delete(self, sha256: str) -> None:
        with suppress(FileNotFoundError):
            await obstore.delete_async(self._store, self._key(sha256))

    async def sweep_staging(self, older_than: float) -> int:
        return await anyio.to_thread.run_sync(sweep_staging_dir, self.staging, older_than)

    async def ready(self) -> None:
        """Raise unless the bucket can be listed."""
        prefix = f"{self._prefix}/" if self._prefix else None
        async for _ in obstore.list(self._store, prefix=prefix, chunk_size=1):
            break


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"The object store could not be reached ({exc.__class__.__name__}); try again shortly.")
