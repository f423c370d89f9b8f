"""Streaming a stored blob to the client."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import anyio.to_thread
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

_CHUNK = 1024 * 1024


class BlobResponse(FileResponse):
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
