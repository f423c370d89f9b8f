"""``GET /metrics``: the Prometheus text format, when ``[metrics] enabled``; with ``[metrics]
token``, only for ``Authorization: Bearer <token>``."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from qarion_pypi.api.http import context
from qarion_pypi.observe.metrics import CONTENT_TYPE

PATH = "/metrics"


async def metrics(request: Request) -> Response:
    ctx = context(request)
    if not ctx.settings.metrics_enabled:
        return PlainTextResponse("Not Found", status_code=404)
    token = ctx.settings.metrics_token
    if token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return PlainTextResponse(
                "Metrics need the configured bearer token.", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
    ctx.metrics.set_jobs(await ctx.jobs.counts())
    return Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


routes = [Route(PATH, metrics, methods=["GET"])]
