"""Every blob store keeps the same promises: content addressing, create-only commits, byte ranges,
local copies for archive reading, idempotent deletes, and sweeping of stale staging files."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from qarion_pypi.storage import BlobStore, FilesystemBlobStore
from tests.fakes.blobs import MemoryBlobStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["filesystem", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs")
    return MemoryBlobStore(tmp_path / "staging")


async def _put(store: BlobStore, data: bytes) -> str:
    blob = store.incoming()
    for start in range(0, len(data), 700_000):  # several writes, across the 1 MiB batching
        await blob.write(data[start : start + 700_000])
    digests = await blob.finish()
    await store.commit(blob)
    assert not blob.path.exists()  # the staging file is gone once committed
    return digests.sha256


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
    await blob.write(b"half an upload")
    blob.discard()
    assert not blob.path.exists()


async def test_stale_staging_files_are_swept(store: BlobStore) -> None:
    stale, fresh = store.incoming(), store.incoming()
    hour_ago = time.time() - 7200
    os.utime(stale.path, (hour_ago, hour_ago))
    assert await store.sweep_staging(3600) == 1
    assert not stale.path.exists() and fresh.path.exists()
    fresh.discard()


async def test_the_store_reports_ready(store: BlobStore) -> None:
    await store.ready()


def test_filesystem_paths_refuse_anything_but_a_digest(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")


async def test_staging_files_of_a_process_that_is_gone_are_swept_at_any_age(store: BlobStore, tmp_path: Path) -> None:
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    staging = store.incoming().path.parent
    orphan = staging / f"incoming-{dead_pid}-abcdef"
    orphan.write_bytes(b"half an upload of a killed process")
    live = store.incoming()  # this process's own, young: kept
    assert await store.sweep_staging(3600) >= 1
    assert not orphan.exists() and live.path.exists()
    live.discard()
