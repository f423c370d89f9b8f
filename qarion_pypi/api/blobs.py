"""Sending a stored blob to the client: from a memory map when it is a local file, else streamed,
with single-range requests answered either way."""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from qarion_pypi.storage import StoredBlob

_CHUNK = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")


def blob_response(blob: StoredBlob, headers: dict[str, str]) -> Response:
    if blob.path is not None:
        return MappedFileResponse(blob.path, headers=headers)
    return StreamedBlobResponse(blob, headers)


class MappedFileResponse(FileResponse):
    """A whole-file GET is sent from a memory map in 1 MiB slices.

    Reading into Python buffers costs a copy and a worker-thread trip per chunk; slices of a map
    go straight from the page cache to the socket. Range and HEAD requests, and empty files (which
    cannot be mapped), keep Starlette's own handling.
    """

    def __init__(self, path: Path, *, headers: dict[str, str]) -> None:
        super().__init__(path, media_type="application/octet-stream", headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        if scope.get("method") != "GET" or b"range" in headers:
            await super().__call__(scope, receive, send)
            return
        mapped = await anyio.to_thread.run_sync(self._map)
        if mapped is None:
            await super().__call__(scope, receive, send)
            return
        # No explicit close: the server's transport may still hold slices after send() returns,
        # and closing under them is refused (BufferError). The map and its file descriptor go
        # when the last slice is released.
        size = len(mapped)
        view = memoryview(mapped)
        del mapped
        self.headers["content-length"] = str(size)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for start in range(0, size, _CHUNK):
            end = min(start + _CHUNK, size)
            await send({"type": "http.response.body", "body": view[start:end], "more_body": end < size})

    def _map(self) -> mmap.mmap | None:
        with open(self.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return None
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        # Ask the kernel to read ahead now, in this worker thread, so that the event loop rarely
        # meets a page that is not yet in memory.
        mapped.madvise(mmap.MADV_SEQUENTIAL)
        mapped.madvise(mmap.MADV_WILLNEED)
        return mapped


class StreamedBlobResponse(Response):
    """A blob from a store without local files: the whole of it, or the one range asked for.

    Several ranges in one request are answered with the whole blob, which RFC 9110 allows."""

    def __init__(self, blob: StoredBlob, headers: dict[str, str]) -> None:
        super().__init__(media_type="application/octet-stream", headers={**headers, "Accept-Ranges": "bytes"})
        self._blob = blob

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        size = self._blob.size
        try:
            span = _range(Headers(scope=scope).get("range"), size)
        except _Unsatisfiable:
            self.status_code = 416
            self.headers["content-range"] = f"bytes */{size}"
            self.headers["content-length"] = "0"
            await send({"type": "http.response.start", "status": 416, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        start, end = span or (0, size)
        if span is not None:
            self.status_code = 206
            self.headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        self.headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") == "HEAD" or start == end:
            await send({"type": "http.response.body", "body": b""})
            return
        async for chunk in self._blob.read(start, end):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


class _Unsatisfiable(Exception):
    pass


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single ``bytes=`` range; None for no (or an unusable) range header."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if not length:
            raise _Unsatisfiable
        return max(0, size - length), size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise _Unsatisfiable
    return start, end
