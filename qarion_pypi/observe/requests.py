"""One log line and one metrics sample per request, with a request id.

The id is the client's ``X-Request-ID`` when it is a short token, else a new one; it is sent back
as ``X-Request-ID`` and carried by error bodies, so a user's report finds its log line. A line
names the method, the route template (``/api/v1.0/spaces/{slug}/...``, never the path's values or
the query string), the status, the duration and the principal's id; never a key.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qarion_pypi.observe.logs import REQUEST_FIELDS
from qarion_pypi.observe.metrics import Metrics

log = logging.getLogger("qarion_pypi.requests")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED = "(unmatched)"


def request_id(scope: Scope) -> str:
    """The id ``RequestLog`` gave this request ("" outside it)."""
    return str(scope.get("state", {}).get("request_id", ""))


def _template(scope: Scope) -> str:
    """The route template the request matched, its mount's prefix included."""
    path = getattr(scope.get("route"), "path", None)
    if path is None:
        return UNMATCHED
    mount = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    return f"{mount}{path}"


def _principal(scope: Scope) -> str:
    caller = scope.get("state", {}).get("principal")
    if caller is None:
        return "-"
    return str(caller.user_id or caller.api_key_id or caller.username)


class RequestLog:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _CLIENT_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            self._record(scope, rid, status, time.perf_counter() - started)

    def _record(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        route, method = _template(scope), scope["method"]
        self._metrics.requests.labels(route, method, str(status)).inc()
        self._metrics.latency.labels(route, method).observe(seconds)
        if not log.isEnabledFor(logging.INFO):  # pages and downloads: no line built for nobody
            return
        line: dict[str, Any] = {
            "request_id": rid, "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 2), "principal": _principal(scope),
        }  # fmt: skip
        log.info(" ".join(f"{key}={value}" for key, value in line.items()), extra={REQUEST_FIELDS: line})
