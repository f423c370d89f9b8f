"""Pages out: one Jinja2 environment (autoescaping every value), the security headers every page
carries, and error pages for the domain's errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from qarion_pypi.api.http import context
from qarion_pypi.errors import NotFound, QarionError, Unauthenticated
from qarion_pypi.observe.requests import request_id
from qarion_pypi.services import audit
from qarion_pypi.web.auth import current_session, offer_sign_in, sign_in_token

_HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=_HERE / "templates")
STATIC_DIR = _HERE / "static"


def _when(iso: str | None) -> str:
    """An API timestamp (``2026-11-30T15:13:52.458047Z``) as people read it."""
    return f"{iso[:10]} {iso[11:16]} UTC" if iso else "\N{EN DASH}"


TEMPLATES.env.filters["when"] = _when

# No inline script or style anywhere: scripts and styles come from /static/ only. README images
# may come from https sites (badges); nothing may frame the pages.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


async def page(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    """``template`` rendered with ``values`` and what every page shows (who is signed in, the
    form tokens)."""
    session = await current_session(request)
    form_token = session.csrf_token if session else sign_in_token(request)
    administers = session is not None and (
        session.principal.is_admin or bool(await audit.admin_spaces(context(request), session.principal))
    )
    shared = {"session": session, "viewer": session.principal if session else None, "form_token": form_token,
              "administers": administers}  # fmt: skip
    response = TEMPLATES.TemplateResponse(request, template, {**shared, **values}, status_code=status)
    if session is None:
        offer_sign_in(response, request, form_token)
    return secure(response)


def redirect(url: str) -> Response:
    return secure(RedirectResponse(url, status_code=303))


async def error_page(request: Request, exc: QarionError) -> Response:
    """Hidden and missing things look alike (404); a visitor who is not signed in is offered the
    sign-in form with the 404, since signing in may make the page visible."""
    status = exc.status
    if isinstance(exc, Unauthenticated):
        status = 401
    title = "Not found" if isinstance(exc, NotFound) else "Cannot show this page"
    detail = "There is nothing here, or you cannot see it." if isinstance(exc, NotFound) else exc.detail
    return await page(request, "error.html", status, title=title, detail=detail, reference=request_id(request.scope))
