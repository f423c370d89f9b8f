"""Refusing URLs no resource can have: control characters in the path or the query.

Slugs, names and ids never contain them, and PostgreSQL cannot even compare a string holding NUL,
so such a request ends here, before any route: a 404 for a path (what a missing thing gets on
either surface) and a 400 naming the problem for a query.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

from qarion_pypi.api.http import client_error, is_client_path, management_error
from qarion_pypi.errors import BadRequest, NotFound, QarionError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RefuseControlCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = _refusal(scope)
            if refusal is not None:
                path: str = scope["path"]
                response = client_error(refusal) if is_client_path(path) else management_error(refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> QarionError | None:
    if _CONTROL.search(scope["path"]):
        return NotFound("Not found.")
    query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
    if _CONTROL.search(query):
        return BadRequest("The query string contains control characters.")
    return None
