"""Every blob store keeps the same promises: content addressing, create-only commits, byte ranges,
local copies for archive reading, idempotent deletes, and sweeping of stale staging files. The S3
store is tried against a real S3 server (SeaweedFS), whichever test backend runs."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import BinaryIO

import anyio
import httpx
import pytest

from qarion_pypi.config import load_settings
from qarion_pypi.errors import Unavailable
from qarion_pypi.storage import BlobStore, FilesystemBlobStore
from qarion_pypi.storage.s3 import PART_SIZE, S3BlobStore
from tests.fakes.blobs import MemoryBlobStore
from tests.support import backends
from tests.support.net import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["filesystem", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs")
    if request.param == "s3":
        return s3_store(tmp_path)
    return MemoryBlobStore(tmp_path / "staging")


def s3_store(tmp_path: Path, **settings: str) -> S3BlobStore:
    """A store under a prefix of its own in the session's S3 server."""
    server = backends.SESSION.s3()
    values = {
        "storage_backend": "s3", "s3_endpoint_url": server.endpoint, "s3_bucket": server.bucket,
        "s3_access_key_id": server.access_key, "s3_secret_access_key": server.secret_key,
        "s3_prefix": f"stores/{tmp_path.name}", **settings,
    }  # fmt: skip
    return S3BlobStore(load_settings(overrides=values, environ={}), tmp_path / "staging")


async def _put(store: BlobStore, data: bytes, *, sha256_only: bool = False) -> str:
    blob = store.incoming(sha256_only=sha256_only)
    for start in range(0, len(data), 700_000):  # several writes, across the 1 MiB batching
        await blob.write(data[start : start + 700_000])
    digests = await blob.finish()
    assert (digests.md5, digests.blake2_256) == (
        (None, None)
        if sha256_only
        else (hashlib.md5(data).hexdigest(), hashlib.blake2b(data, digest_size=32).hexdigest())
    )
    await store.commit(blob)
    assert not blob.path.exists()  # the staging file is gone once committed
    return digests.sha256


async def test_a_blob_hashed_for_its_sha256_alone_is_stored_alike(store: BlobStore) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    sha256 = await _put(store, data, sha256_only=True)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert await _read(store, sha256, 0, len(data)) == data


async def _read(store: BlobStore, sha256: str, start: int, end: int) -> bytes:
    blob = await store.open(sha256)
    assert blob is not None
    return b"".join([chunk async for chunk in blob.read(start, end)])


async def test_blobs_are_named_by_their_sha256_and_read_back_in_ranges(store: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha256 = await _put(store, data)
    assert sha256 == hashlib.sha256(data).hexdigest() and await store.exists(sha256)
    blob = await store.open(sha256)
    assert blob is not None and blob.size == len(data)
    assert await _read(store, sha256, 0, len(data)) == data
    assert await _read(store, sha256, 1_000_000, 2_500_001) == data[1_000_000:2_500_001]
    async with store.local_copy(sha256) as path:
        assert path.read_bytes() == data


async def test_commits_never_overwrite_a_blob(store: BlobStore) -> None:
    sha256 = await _put(store, b"first")
    again = await _put(store, b"first")
    assert again == sha256 and await _read(store, sha256, 0, 5) == b"first"


async def test_missing_blobs(store: BlobStore) -> None:
    absent = "0" * 64
    assert await store.open(absent) is None and not await store.exists(absent)
    with pytest.raises(FileNotFoundError):
        async with store.local_copy(absent):
            pass
    await store.delete(absent)  # not an error
    sha256 = await _put(store, b"gone soon")
    await store.delete(sha256)
    assert await store.open(sha256) is None


async def test_discarded_staging_leaves_nothing(store: BlobStore) -> None:
    blob = store.incoming()
    await blob.write(b"x" * (2 * 1024 * 1024))  # past one flush: the staging file exists
    assert blob.path.exists()
    blob.discard()
    assert not blob.path.exists()


async def test_a_blob_discarded_while_its_file_is_being_created_leaves_nothing(store: BlobStore) -> None:
    """The staging file is created in the background once the first bytes arrive; a discard at
    any moment of that (creation queued, under way or done) leaves no file, at once."""
    staging = store.incoming().path.parent
    for size in (1, 10, 100) * 20:
        blob = store.incoming()
        await blob.write(b"x" * size)
        blob.discard()
    assert not list(staging.glob("incoming-*"))


def _contents(source: Path | BinaryIO) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source.read()


async def test_a_small_blob_is_finished_on_the_event_loop_and_read_from_memory(store: BlobStore) -> None:
    blob = store.incoming()
    await blob.write(b"read ")
    await blob.write(b"me")
    reads: list[tuple[int, bool]] = []  # (thread, given a path)

    def read(source: Path | BinaryIO) -> bytes:
        reads.append((threading.get_ident(), isinstance(source, Path)))
        return _contents(source)

    digests = await blob.finish()
    assert digests.sha256 == hashlib.sha256(b"read me").hexdigest()
    assert digests.md5 == hashlib.md5(b"read me").hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(b"read me", digest_size=32).hexdigest()
    assert await blob.read(read) == b"read me"
    assert reads == [(reads[0][0], False)] and reads[0][0] != threading.get_ident()  # not quick: a thread
    assert blob.path.read_bytes() == b"read me"  # written when finished
    await store.commit(blob)
    assert await _read(store, digests.sha256, 0, 7) == b"read me"


async def test_a_quick_read_of_a_small_blob_stays_on_the_event_loop(store: BlobStore) -> None:
    blob = store.incoming()
    await blob.write(b"tiny")
    await blob.finish()
    seen: list[bytes] = []

    def quick(data: bytes) -> bool:
        seen.append(data)
        return True

    loop = threading.get_ident()
    assert await blob.read(lambda source: (threading.get_ident(), _contents(source)), quick=quick) == (loop, b"tiny")
    assert seen == [b"tiny"]
    blob.discard()
    assert not blob.path.exists()


async def test_a_large_blob_is_finished_in_a_thread_and_read_from_its_file(store: BlobStore) -> None:
    data = os.urandom(300 * 1024)  # beyond what is kept in memory
    blob = store.incoming()
    for start in range(0, len(data), 64 * 1024):
        await blob.write(data[start : start + 64 * 1024])
    digests = await blob.finish()
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.md5 == hashlib.md5(data).hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    sources: list[object] = []

    def read(source: Path | BinaryIO) -> bytes:
        sources.append(source)
        return _contents(source)

    assert await blob.read(read, quick=lambda data: True) == data  # never quick
    assert sources == [blob.path]
    await store.commit(blob)
    assert await _read(store, digests.sha256, 0, len(data)) == data


async def test_a_finished_blobs_directory_is_made_before_it_is_placed(tmp_path: Path) -> None:
    """The filesystem store syncs a finished staging file and makes its blob's directory in the
    background, while the upload is validated; placing it then only renames and syncs that."""
    store = FilesystemBlobStore(tmp_path / "blobs")
    blob = store.incoming()
    await blob.write(b"placed soon")
    target = store.path_for((await blob.finish()).sha256)
    for _ in range(500):  # a bounded wait for the background
        if target.parent.is_dir():
            break
        await anyio.sleep(0.01)
    assert target.parent.is_dir() and not target.exists()
    await store.commit(blob)
    assert target.read_bytes() == b"placed soon" and not blob.path.exists()


async def test_a_staging_file_appears_with_its_first_bytes(store: BlobStore) -> None:
    blob = store.incoming()
    assert not blob.path.exists()  # nothing on disk for an upload that sent nothing yet
    await blob.finish()
    assert blob.path.read_bytes() == b"" and blob.digests is not None and blob.digests.size == 0
    blob.discard()


async def test_stale_staging_files_are_swept(store: BlobStore) -> None:
    stale, fresh = store.incoming(), store.incoming()
    for blob in (stale, fresh):
        await blob.finish()  # staged, not yet committed
    hour_ago = time.time() - 7200
    os.utime(stale.path, (hour_ago, hour_ago))
    assert await store.sweep_staging(3600) == 1
    assert not stale.path.exists() and fresh.path.exists()
    fresh.discard()


async def test_the_store_reports_ready(store: BlobStore) -> None:
    await store.ready()


async def test_blobs_are_addressed_by_digests_only(store: BlobStore) -> None:
    for name in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(ValueError):
            await store.open(name)


async def test_the_store_lists_what_it_holds(store: BlobStore) -> None:
    stored = {await _put(store, data) for data in (b"one", b"two", b"three")}
    listed = {entry.sha256: entry async for entry in store.entries()}
    assert set(listed) == stored
    assert all(entry.size in (3, 5) and entry.modified <= time.time() + 5 for entry in listed.values())


async def test_s3_downloads_are_presigned_urls_that_honour_ranges(tmp_path: Path) -> None:
    store = s3_store(tmp_path, s3_downloads="redirect")
    data = os.urandom(200_000)
    sha256 = await _put(store, data)
    blob = await store.open(sha256)
    assert blob is not None and blob.redirect is not None and "X-Amz-Signature=" in blob.redirect
    async with httpx.AsyncClient() as http:
        whole = await http.get(blob.redirect)
        part = await http.get(blob.redirect, headers={"Range": "bytes=1000-1999"})
        tampered = await http.get(blob.redirect.replace(sha256, "0" * 64))
    assert whole.content == data
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert tampered.status_code == 403  # the signature covers the key
    streamed = await s3_store(tmp_path, s3_downloads="stream").open(sha256)
    assert streamed is not None and streamed.redirect is None


async def test_s3_blobs_larger_than_a_part_go_up_in_parts_once(tmp_path: Path) -> None:
    store = s3_store(tmp_path)
    data = os.urandom(PART_SIZE * 2 + 12345)
    sha256 = await _put(store, data)
    assert await _read(store, sha256, 0, len(data)) == data
    entries = {entry.sha256: entry async for entry in store.entries()}
    assert entries[sha256].size == len(data)
    await _put(store, data)  # again: found, not written a second time
    assert {entry.sha256: entry async for entry in store.entries()}[sha256].modified == entries[sha256].modified


async def test_an_unreachable_s3_store_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    store = s3_store(tmp_path, s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Unavailable):
        await store.open("0" * 64)
    blob = store.incoming()
    await blob.write(b"bytes")
    await blob.finish()
    with pytest.raises(Unavailable):
        await store.commit(blob)
    blob.discard()
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, ready() must fail
        await store.ready()


async def test_staging_files_of_a_process_that_is_gone_are_swept_at_any_age(store: BlobStore, tmp_path: Path) -> None:
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    staging = store.incoming().path.parent
    staging.mkdir(parents=True, exist_ok=True)
    orphan = staging / f"incoming-{dead_pid}-abcdef"
    orphan.write_bytes(b"half an upload of a killed process")
    live = store.incoming()  # this process's own, young: kept
    await live.finish()
    assert await store.sweep_staging(3600) >= 1
    assert not orphan.exists() and live.path.exists()
    live.discard()
