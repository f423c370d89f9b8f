"""Request and response helpers shared by both surfaces, and the one error mapping per surface."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from qarion_pypi.auth.credentials import MalformedCredentials, parse_authorization
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.errors import BadRequest, NotFound, QarionError, Unauthenticated
from qarion_pypi.repositories.builder import RepositoryBuilder
from qarion_pypi.services.accounts import users

Handler = Callable[[Request], Awaitable[Response]]

API_PREFIX = "/api/v1.0"
CLIENT_PREFIX = API_PREFIX + "/pypi/"
REALM = 'Basic realm="Qarion PyPI", charset="UTF-8"'
MAX_JSON_BYTES = 1024 * 1024


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def principal(request: Request) -> Principal:
    """The authenticated caller; Unauthenticated when credentials are missing or wrong."""
    try:
        credentials = parse_authorization(request.headers.get("authorization"))
    except MalformedCredentials as exc:
        raise Unauthenticated(f"Unreadable credentials: {exc}.") from None
    if credentials is None:
        raise Unauthenticated("Authentication required: send an API key (Bearer, or Basic __token__:KEY).")
    caller = await users.authenticate(context(request), credentials)
    request.state.principal = caller  # the audit log's actor, even when the handler fails later
    return caller


def credential_key(request: Request) -> str | None:
    """A digest of the request's credentials: memo keys never hold the key itself."""
    header = request.headers.get("authorization")
    return hashlib.sha256(header.encode("utf-8", "surrogateescape")).hexdigest() if header else None


def builder(request: Request) -> RepositoryBuilder:
    """Composes the repository a client path names (its kind, members and wrappers)."""
    composed: RepositoryBuilder = request.app.state.repositories
    return composed


def api_site(request: Request) -> str:
    """The absolute URL of ``/api/v1.0``, for links in management responses."""
    configured = context(request).settings.public_url
    if configured:
        return configured.rstrip("/") + API_PREFIX
    return str(request.base_url).rstrip("/") + API_PREFIX


def client_site(request: Request) -> str:
    """The URL of ``/api/v1.0`` for links inside simple pages: root-relative unless a public
    URL is configured."""
    configured = context(request).settings.public_url
    if configured:
        return configured.rstrip("/") + API_PREFIX
    # Inside a Mount, root_path includes the mount's prefix; app_root_path is the server's own.
    return str(request.scope.get("app_root_path", request.scope.get("root_path", ""))) + API_PREFIX


async def read_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise BadRequest("Request body is too large.")
    if not body:
        return {}
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("Request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise BadRequest("Request body must be a JSON object.")
    return document


def json_response(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


def is_client_path(path: str) -> bool:
    return path.startswith(CLIENT_PREFIX)


def error_response(request: Request, exc: Exception) -> Response:
    """The one place domain errors become HTTP, per surface."""
    assert isinstance(exc, QarionError)
    if is_client_path(request.url.path):
        return client_error(exc)
    return management_error(exc)


def management_error(exc: QarionError) -> Response:
    """Management surface: JSON naming the problem and each bad field."""
    headers = {"WWW-Authenticate": REALM} if isinstance(exc, Unauthenticated) else None
    body = {"detail": exc.detail, "errors": [e.as_dict() for e in exc.errors]}
    return JSONResponse(body, status_code=exc.status, headers=headers)


NOT_FOUND_BODY = "Not Found"


def client_error(exc: QarionError) -> Response:
    """pip/twine surface: plain text; every 404 is the same bytes so nothing private leaks."""
    if isinstance(exc, NotFound):
        return PlainTextResponse(NOT_FOUND_BODY, status_code=404)
    headers = {"WWW-Authenticate": REALM} if isinstance(exc, Unauthenticated) else None
    return PlainTextResponse(exc.detail, status_code=exc.status, headers=headers)
