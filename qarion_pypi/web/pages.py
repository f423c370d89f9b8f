"""The web interface's routes: thin, like the API's. Data comes from ``catalog`` (the API's own
shapes), pages from ``render``; errors become pages in ``render.error_page``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from qarion_pypi.api import presenters
from qarion_pypi.api.audit import audit_query
from qarion_pypi.api.http import context, read_bounded
from qarion_pypi.auth.principal import ANONYMOUS, Principal
from qarion_pypi.errors import Forbidden, NotFound, Unauthenticated
from qarion_pypi.services import audit
from qarion_pypi.services.accounts import sessions
from qarion_pypi.web import catalog
from qarion_pypi.web.auth import SIGN_IN_COOKIE, check_form, current_session, end_session, keep_session, viewer
from qarion_pypi.web.render import STATIC_DIR, page, redirect

MAX_FORM_BYTES = 8 * 1024
ACTIVE_JOBS = {"queued", "running"}


async def _form(request: Request) -> dict[str, str]:
    body = await read_bounded(request, MAX_FORM_BYTES)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        fields = {}
    return {name: values[0] for name, values in fields.items()}


def _local(path: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if path and path.startswith("/") and not path.startswith(("//", "/\\", "/sign-")):
        return path
    return "/"


async def home(request: Request) -> Response:
    return await page(request, "home.html", spaces=await catalog.home(request))


async def sign_in(request: Request) -> Response:
    form = await _form(request)
    check_form(request.cookies.get(SIGN_IN_COOKIE), form.get("csrf_token"))
    try:
        session = await sessions.sign_in(context(request), form.get("key", ""))
    except Unauthenticated as exc:
        return await page(request, "home.html", 401, spaces=await catalog.home(request), sign_in_error=exc.detail)
    response = redirect(_local(form.get("next")))
    keep_session(response, request, session)
    return response


async def sign_out(request: Request) -> Response:
    session = await current_session(request)
    form = await _form(request)
    if session is not None:
        check_form(session.csrf_token, form.get("csrf_token"))
        await sessions.sign_out(context(request), session.id)
    response = redirect("/")
    end_session(response)
    return response


async def repository_page(request: Request) -> Response:
    _, document = await catalog.repository(request)
    return await page(request, "repository.html", repository=document, query=request.query_params.get("q", ""))


async def package_page(request: Request) -> Response:
    return await page(request, "package.html", **await catalog.package(request))


async def project(request: Request) -> Response:
    """Where flit's ``/project/<name>/`` link lands: the one package page, or a choice."""
    name = request.path_params["name"]
    found = await catalog.find_project(request, name)
    if not found:
        raise NotFound("Package not found.")
    version = request.path_params.get("version")
    if len(found) == 1:
        return redirect(found[0]["path"] + (f"{version}/" if version else ""))
    return await page(request, "project.html", name=name, found=found)


async def _admin(request: Request) -> Principal:
    """A platform or space admin; to anyone else the admin pages do not exist."""
    caller = await viewer(request)
    if caller.kind == ANONYMOUS:
        raise NotFound("Page not found.")
    return caller


async def audit_page(request: Request) -> Response:
    caller = await _admin(request)
    try:
        query = await audit_query(request, caller)
    except Forbidden:
        raise NotFound("Page not found.") from None
    events = [presenters.audit_event(row) for row in await audit.search(context(request), query)]
    return await page(request, "audit.html", events=events, filters=dict(request.query_params))


async def jobs_page(request: Request) -> Response:
    caller = await _admin(request)
    try:
        readable = await audit.readable_spaces(context(request), caller, None)
    except Forbidden:
        raise NotFound("Page not found.") from None
    jobs: list[dict[str, Any]] = [
        {**presenters.job(job), "repository": row["repository_slug"], "space": row["space_slug"]}
        for job, row in await audit.recent_jobs(context(request), readable)
    ]
    refresh = any(job["status"] in ACTIVE_JOBS for job in jobs)
    return await page(request, "jobs.html", jobs=jobs, refresh=refresh)


def _repository_routes(root: str) -> list[BaseRoute]:
    return [
        Route(root + "/", repository_page, methods=["GET", "HEAD"]),
        Route(root + "/packages/{name}/", package_page, methods=["GET", "HEAD"]),
        Route(root + "/packages/{name}/{version}/", package_page, methods=["GET", "HEAD"]),
    ]


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET", "HEAD"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
    *_repository_routes("/spaces/{space}/repositories/{repository}"),
    *_repository_routes("/spaces/{space}/projects/{project}/repositories/{repository}"),
    Route("/project/{name}/", project, methods=["GET", "HEAD"]),
    Route("/project/{name}/{version}/", project, methods=["GET", "HEAD"]),
    Route("/admin/audit/", audit_page, methods=["GET", "HEAD"]),
    Route("/admin/jobs/", jobs_page, methods=["GET", "HEAD"]),
    Mount("/static", StaticFiles(directory=STATIC_DIR, follow_symlink=False), name="static"),
]
