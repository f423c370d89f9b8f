"""A repository's resource (a file or its core metadata) as an HTTP response."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from qarion_pypi.api.blobs import blob_response
from qarion_pypi.context import Context
from qarion_pypi.errors import Unavailable
from qarion_pypi.repositories.base import (
    BlobResource,
    BytesResource,
    RedirectResource,
    Resource,
    Settle,
    StreamResource,
)

log = logging.getLogger(__name__)
# Files never change once published, but they are private: no shared caches.
_IMMUTABLE = "private, max-age=31536000, immutable"


async def respond(ctx: Context, resource: Resource) -> Response:
    ctx.metrics.downloads.labels("metadata" if isinstance(resource, BytesResource) else "file").inc()
    match resource:
        case BlobResource(sha256=sha256, size=size):
            blob = await ctx.blobs.open(sha256)
            if blob is None or (size is not None and blob.size != size):
                # The row says the file exists; its bytes do not: a fault of this server, said
                # plainly, logged for its operators (``qarion-pypi check`` lists every such file).
                state = "missing" if blob is None else f"damaged ({blob.size} bytes instead of {size})"
                log.error("blob %s is %s in the %s store", sha256, state, ctx.blobs.name)
                raise Unavailable("The stored file is unavailable; the server's operators have been told.")
            ctx.metrics.download_bytes.inc(blob.size)
            if blob.redirect is not None:
                return RedirectResponse(blob.redirect, status_code=302, headers={"Cache-Control": "private, no-store"})
            return blob_response(blob, {"ETag": f'"{sha256}"', "Cache-Control": _IMMUTABLE})
        case BytesResource(body=body, sha256=sha256, settle=settle):
            ctx.metrics.download_bytes.inc(len(body))
            headers = {"ETag": f'"{sha256}"', "Cache-Control": _IMMUTABLE}
            after = BackgroundTask(settle) if settle else None  # sent whole at once: then settled
            return Response(body, media_type="text/plain; charset=utf-8", headers=headers, background=after)
        case RedirectResource(url=url):
            return RedirectResponse(url, status_code=302)
        case StreamResource(chunks=chunks, sha256=sha256, settle=settle):
            headers = {"ETag": f'"{sha256}"', "Cache-Control": _IMMUTABLE}
            return SettledStream(chunks, settle, media_type="application/octet-stream", headers=headers)
    raise AssertionError(f"unknown resource {resource!r}")


class SettledStream(StreamingResponse):
    """A stream whose source settles after the answer has ended, whole (the client is no longer
    waiting for it: the next request on the connection is already served) or broken off."""

    def __init__(self, chunks: AsyncIterator[bytes], settle: Settle, **options: Any) -> None:
        super().__init__(chunks, **options)
        self._settle = settle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._settle()
