"""Who is browsing: the session cookie made at sign-in, or nobody (public repositories only).

The cookie holds a random token, HMAC-signed with the server's secret so forged values cost no
database query; the token's session row names the API key it stands for. Forms carry a CSRF token:
the session's own, or before sign-in a random one also set as a short-lived cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api.http import context
from qarion_pypi.auth.principal import ANONYMOUS_PRINCIPAL, Principal
from qarion_pypi.errors import Forbidden
from qarion_pypi.services.accounts import sessions
from qarion_pypi.services.accounts.sessions import WebSession

SESSION_COOKIE = "qarion_session"
SIGN_IN_COOKIE = "qarion_sign_in"  # the sign-in form's CSRF token, before there is a session
SIGN_IN_FORM_SECONDS = 3600
_UNSET = object()


async def current_session(request: Request) -> WebSession | None:
    """The live session of the request's cookie (looked up once per request)."""
    known = getattr(request.state, "web_session", _UNSET)
    if known is not _UNSET:
        return known  # type: ignore[return-value]
    found = None
    raw = request.cookies.get(SESSION_COOKIE)
    token = context(request).sealer.unsign(raw) if raw else None
    if token:
        found = await sessions.resume(context(request), token)
    request.state.web_session = found
    if found is not None:
        request.state.principal = found.principal  # what the management API's access checks read
    return found


async def viewer(request: Request) -> Principal:
    """The signed-in principal, or the anonymous one."""
    session = await current_session(request)
    return session.principal if session else ANONYMOUS_PRINCIPAL


def _over_https(request: Request) -> bool:
    """Whether browsers reach this server over https: the request says so, or the configured public
    URL does (a TLS-terminating proxy in front, talking plain http to this server)."""
    return request.url.scheme == "https" or context(request).settings.public_url.startswith("https://")


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int, same_site: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_over_https(request),
        httponly=True,
        samesite=same_site,  # type: ignore[arg-type]
    )


def keep_session(response: Response, request: Request, session: WebSession) -> None:
    assert session.token is not None
    max_age = int(sessions.SESSION_LIFETIME.total_seconds())
    _cookie(response, request, SESSION_COOKIE, context(request).sealer.sign(session.token), max_age, "lax")
    response.delete_cookie(SIGN_IN_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def sign_in_token(request: Request) -> str:
    """The CSRF token the sign-in form carries: the cookie's when there is one, else a new one
    (set with ``offer_sign_in``)."""
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)


def offer_sign_in(response: Response, request: Request, token: str) -> None:
    _cookie(response, request, SIGN_IN_COOKIE, token, SIGN_IN_FORM_SECONDS, "strict")


def check_form(expected: str | None, sent: object) -> None:
    """Refuse a form whose CSRF token is missing or not the one this browser was given."""
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise Forbidden("This form has expired or did not come from this site; reload the page and try again.")
