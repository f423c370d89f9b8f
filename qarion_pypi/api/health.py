"""``GET /health``: can this replica serve? Unauthenticated, and it names no path or address."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qarion_pypi.api.http import context

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0


async def _check(name: str, probe: Callable[[], Awaitable[None]]) -> str:
    try:
        with anyio.fail_after(CHECK_SECONDS):
            await probe()
    except Exception:
        log.exception("health check %s failed", name)  # details go to the log, not to the caller
        return "unavailable"
    return "ok"


async def health(request: Request) -> Response:
    ctx = context(request)
    checks = {
        "database": await _check("database", ctx.db.ping),
        "blob_store": await _check("blob_store", ctx.blobs.ready),
    }
    healthy = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


PATH = "/health"
routes = [Route(PATH, health, methods=["GET", "HEAD"])]
