"""Request and response helpers shared by both surfaces, and the one error mapping per surface."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from qarion_pypi.auth.credentials import MalformedCredentials, parse_authorization
from qarion_pypi.auth.principal import ANONYMOUS_PRINCIPAL, Principal
from qarion_pypi.context import Context
from qarion_pypi.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    QarionError,
    RequestTimeout,
    Unauthenticated,
    Unavailable,
)
from qarion_pypi.observe.requests import request_id
from qarion_pypi.repositories.builder import RepositoryBuilder
from qarion_pypi.services.accounts import authentication

Handler = Callable[[Request], Awaitable[Response]]

API_PREFIX = "/api/v1.0"
CLIENT_PREFIX = API_PREFIX + "/pypi/"
REALM = 'Basic realm="Qarion PyPI", charset="UTF-8"'
MAX_JSON_BYTES = 1024 * 1024


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def principal(request: Request) -> Principal:
    """The authenticated caller (once per request); Unauthenticated when credentials are missing
    or wrong."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    try:
        credentials = parse_authorization(request.headers.get("authorization"))
    except MalformedCredentials as exc:
        raise Unauthenticated(f"Unreadable credentials: {exc}.") from None
    if credentials is None:
        raise Unauthenticated("Authentication required: send an API key (Bearer, or Basic __token__:KEY).")
    caller = await authentication.authenticate(context(request), credentials)
    request.state.principal = caller  # the audit log's actor, even when the handler fails later
    return caller


async def principal_or_anonymous(request: Request) -> Principal:
    """The caller, or the anonymous principal when no credentials were sent at all (wrong ones
    are still 401): for what public repositories serve to anyone."""
    if not request.headers.get("authorization"):
        return ANONYMOUS_PRINCIPAL
    return await principal(request)


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


async def read_json(request: Request, *, limit: int = MAX_JSON_BYTES, anonymous: bool = False) -> dict[str, Any]:
    """The caller's JSON object. Credentials are checked before a byte of the body is read
    (unless the endpoint takes none), and at most ``limit`` bytes are read: nobody makes the
    server hold a body it will refuse."""
    if not anonymous:
        await principal(request)
    body = await read_bounded(request, limit)
    if not body:
        return {}
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("Request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise BadRequest("Request body must be a JSON object.")
    return document


async def read_bounded(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (declared or sent), and with 408
    when the client stops sending for ``[server] body_timeout`` seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is too large (more than {limit} bytes).")
    body = bytearray()
    async for chunk in idle_bounded(request):
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body is too large (more than {limit} bytes).")
    return bytes(body)


async def idle_bounded(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks, ended with 408 when none arrives for ``[server] body_timeout`` seconds
    (a slow-body client must not hold a connection and a staging file forever)."""
    timeout = context(request).settings.body_timeout
    iterator = aiter(request.stream())
    while True:
        with anyio.move_on_after(timeout) as waited:
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
        if waited.cancelled_caught:
            raise RequestTimeout(f"The request body stopped arriving for {timeout:g} seconds.")
        yield chunk


def json_response(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


def is_client_path(path: str) -> bool:
    return path.startswith(CLIENT_PREFIX)


def error_response(request: Request, exc: Exception) -> Response:
    """The one place domain errors become HTTP, per surface."""
    assert isinstance(exc, QarionError)
    if is_client_path(request.url.path):
        return client_error(exc)
    return management_error(exc, request_id(request.scope))


def management_error(exc: QarionError, rid: str = "") -> Response:
    """Management surface: JSON naming the problem and each bad field (and the request's id, which
    the server's log line for it carries too)."""
    body: dict[str, Any] = {"detail": exc.detail, "errors": [e.as_dict() for e in exc.errors]}
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=exc.status, headers=_headers(exc))


def _headers(exc: QarionError) -> dict[str, str]:
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = REALM
    if isinstance(exc, Unavailable) and exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return headers


NOT_FOUND_BODY = "Not Found"


def client_error(exc: QarionError) -> Response:
    """pip/twine surface: plain text; every 404 is the same bytes so nothing private leaks."""
    if isinstance(exc, NotFound):
        return PlainTextResponse(NOT_FOUND_BODY, status_code=404)
    return PlainTextResponse(exc.detail, status_code=exc.status, headers=_headers(exc))
