"""Blob stores: content-addressed by SHA-256, behind one small interface."""

from qarion_pypi.config import Settings
from qarion_pypi.storage.base import BlobStore, Digests, IncomingBlob, StoredBlob
from qarion_pypi.storage.filesystem import FilesystemBlobStore


def configured_store(settings: Settings) -> BlobStore:
    """The store the settings name. The S3 store is imported only when it is used."""
    if settings.storage_backend == "s3":
        from qarion_pypi.storage.s3 import S3BlobStore

        return S3BlobStore(settings, settings.data_dir / "staging")
    return FilesystemBlobStore(settings.resolved_blob_dir)


__all__ = ["BlobStore", "Digests", "FilesystemBlobStore", "IncomingBlob", "StoredBlob", "configured_store"]
