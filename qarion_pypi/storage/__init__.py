"""Blob stores: content-addressed by SHA-256, behind one small interface."""

from qarion_pypi.storage.base import BlobStore, Digests, IncomingBlob, StoredBlob
from qarion_pypi.storage.filesystem import FilesystemBlobStore

__all__ = ["BlobStore", "Digests", "FilesystemBlobStore", "IncomingBlob", "StoredBlob"]
