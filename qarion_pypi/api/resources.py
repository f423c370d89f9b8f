"""A repository's resource (a file or its core metadata) as an HTTP response."""

from __future__ import annotations

import logging

from starlette.responses import RedirectResponse, Response, StreamingResponse

from qarion_pypi.api.blobs import blob_response
from qarion_pypi.context import Context
from qarion_pypi.errors import Unavailable
from qarion_pypi.repositories.base import BlobResource, BytesResource, RedirectResource, Resource, StreamResource

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
        case BytesResource(body=body, sha256=sha256):
            ctx.metrics.download_bytes.inc(len(body))
            headers = {"ETag": f'"{sha256}"', "Cache-Control": _IMMUTABLE}
            return Response(body, media_type="text/plain; charset=utf-8", headers=headers)
        case RedirectResource(url=url):
            return RedirectResponse(url, status_code=302)
        case StreamResource(chunks=chunks, sha256=sha256):
            headers = {"ETag": f'"{sha256}"', "Cache-Control": _IMMUTABLE}
            return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
    raise AssertionError(f"unknown resource {resource!r}")
