"""pip, uv and twine endpoints: simple pages, files, legacy upload (PEP 503/691/658/700).

Routes negotiate, authorize, render and send; what a repository holds and serves is its own
business (``repositories/``). Each repository's files live under its own client root, beside
``simple/``, so per-index credentials work in every client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from packaging.utils import canonicalize_name
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from qarion_pypi.api.auditing import audited
from qarion_pypi.api.http import builder, client_site, context, credential_key, principal_or_anonymous
from qarion_pypi.api.resources import respond
from qarion_pypi.api.uploading import receive_upload
from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.auth.principal import ANONYMOUS, Principal
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import NotFound, Unauthenticated
from qarion_pypi.repositories import records
from qarion_pypi.repositories.base import Repository
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.services.catalog import uploads
from qarion_pypi.services.publishing import attestations
from qarion_pypi.simple import render
from qarion_pypi.simple.cache import RenderedPage, make_page
from qarion_pypi.simple.negotiate import SUPPORTED, Choice, NotAcceptable, negotiate

Resolved = tuple[Repository, Principal, Permission]


async def _resolve(
    request: Request, key: tuple[object, ...], load: Callable[[], Awaitable[RepositoryRecord]]
) -> Resolved:
    """The caller, the composed repository and the caller's permission on it: 401 before
    anything else. Remembered until the database changes, so the hot path costs no query.

    A public repository answers reads without credentials; to an anonymous caller everything
    else (private, missing, or more than a read) is the same 401."""
    ctx = context(request)
    site = client_site(request)

    async def resolve() -> Resolved:
        caller = await principal_or_anonymous(request)
        try:
            record = await load()
        except NotFound:
            if caller.kind == ANONYMOUS:
                raise _credentials_needed() from None
            raise
        held = await effective_permission(ctx.db, caller, record.space_id, record.project_scope_id, record.id)
        if record.visibility == "public":
            held = max(held, Permission.VIEW)
        return await builder(request).build(record, site), caller, held

    resolved = await ctx.memo.get((*key, credential_key(request), site), resolve)
    caller = resolved[1]
    if caller.expired(utcnow()):  # remembered principals expire on time, not on a change
        raise Unauthenticated("This API key has expired.")
    request.state.principal = caller  # the audit log's actor, even when remembered
    if caller.kind != ANONYMOUS:
        ctx.key_usage.note(caller.api_key_id)
    return resolved


def _credentials_needed() -> Unauthenticated:
    return Unauthenticated("Authentication required: send an API key (Bearer, or Basic __token__:KEY).")


async def _repository(request: Request, needed: Permission, action: str) -> tuple[Repository, Principal]:
    """The repository in the path: 401, then 404 (not visible), then 403."""
    params = request.path_params
    slugs = (params["space_slug"], params["repository_slug"], params.get("project_slug"))
    repository, caller, held = await _resolve(
        request, ("repository", *slugs), lambda: records.by_client_path(context(request).db, *slugs)
    )
    if caller.kind == ANONYMOUS and held < needed:
        raise _credentials_needed()
    require(held, needed, action, "repository")
    return repository, caller


def _negotiate(request: Request) -> Choice | Response:
    try:
        return negotiate(request.headers.get("accept"), request.query_params.get("format"))
    except NotAcceptable:
        return PlainTextResponse(
            "Not Acceptable. Supported media types: " + ", ".join(SUPPORTED),
            status_code=406,
            headers={"Vary": "Accept"},
        )


def _page_response(request: Request, page: RenderedPage) -> Response:
    headers = {"ETag": page.etag, "Vary": "Accept", "Cache-Control": "private, max-age=0, must-revalidate"}
    if page.etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(page.body, headers={**headers, "Content-Type": page.content_type})


def _etags(header: str | None) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")} if header else set()


async def _cached(
    request: Request,
    repository: Repository,
    project: str | None,
    choice: Choice,
    build: Callable[[str], Awaitable[bytes | None]],
) -> Response:
    """Render a page (``build`` gets the base for file links), or take it from the page cache
    when the repository can say when its pages change."""
    ctx = context(request)
    base = f"{client_site(request)}{repository.record.client_path}/"
    cache_key = repository.cache_key()
    key = None if cache_key is None else (cache_key, project, choice.media_type, base)
    page = ctx.pages.get(key) if key is not None else None
    if page is None:
        body = await build(base)
        if body is None:
            raise NotFound("Project not found.")
        page = make_page(body, choice.content_type)
        if key is not None:
            ctx.pages.put(key, page)
    return _page_response(request, page)


async def simple_index(request: Request) -> Response:
    repository, _ = await _repository(request, Permission.VIEW, "view")
    choice = _negotiate(request)
    if isinstance(choice, Response):
        return choice

    async def build(base: str) -> bytes:
        projects = await repository.project_list()
        return render.project_list_json(projects) if choice.is_json else render.project_list_html(projects)

    return await _cached(request, repository, None, choice, build)


async def simple_project(request: Request) -> Response:
    repository, _ = await _repository(request, Permission.VIEW, "view")
    name = request.path_params["project"]
    normalized = canonicalize_name(name)
    if name != normalized:  # PEP 503: redirect to the normalized URL
        target = request.url.path.rstrip("/").rsplit("/", 1)[0] + f"/{normalized}/"
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(target, status_code=301)
    choice = _negotiate(request)
    if isinstance(choice, Response):
        return choice

    async def build(base: str) -> bytes | None:
        page = await repository.project_page(normalized)
        if page is None:
            return None
        return render.project_page_json(page, base) if choice.is_json else render.project_page_html(page, base)

    return await _cached(request, repository, normalized, choice, build)


async def repository_file(request: Request) -> Response:
    """A file of the repository's pages, or its ``.metadata``, under the repository's own root."""
    repository, _ = await _repository(request, Permission.VIEW, "view")
    return await _send_file(request, repository)


async def file_by_id(request: Request) -> Response:
    """The reference's ``/pypi/files/{file_id}/{filename}`` (and the older ``/pypi/remote/`` links
    of proxied files): the file's own repository serves it, with the same rules."""
    file_id = request.path_params["file_id"]
    repository, caller, held = await _resolve(
        request, ("file", file_id), lambda: records.owner_of_file(context(request).db, file_id)
    )
    if caller.kind == ANONYMOUS and held < Permission.VIEW:
        raise _credentials_needed()
    require(held, Permission.VIEW, "view", "file")
    return await _send_file(request, repository)


async def _send_file(request: Request, repository: Repository) -> Response:
    resource = await repository.resource(request.path_params["file_id"], request.path_params["filename"])
    if resource is None:  # missing, or blocked by a scan: for package clients, not there
        raise NotFound("File not found.")
    return await respond(context(request), resource)


async def provenance(request: Request) -> Response:
    """PEP 740's Integrity API: the provenance of a file this repository serves."""
    repository, _ = await _repository(request, Permission.VIEW, "view")
    params = request.path_params
    page = await repository.project_page(canonicalize_name(params["project"]))
    entry = next((f for f in page.files if f.filename == params["filename"] and f.provenance), None) if page else None
    found = await attestations.provenance_of(context(request), entry.file_id) if entry else None
    if found is None:
        raise NotFound("Provenance not found.")
    return Response(found, media_type=attestations.PROVENANCE_TYPE)


async def legacy_upload(request: Request) -> Response:
    repository, caller = await _repository(request, Permission.PUBLISH, "publish")
    target = await uploads.target(context(request), caller, repository.record)
    await receive_upload(request, caller, target, file_field="content", legacy=True)
    return PlainTextResponse("OK")


audited_upload = audited("upload", "file")(legacy_upload)


async def release_link(request: Request) -> Response:
    """The page links that upload tools print after publishing (hatch: the upload URL, the name
    and the version) lead to the package's page in the web interface, which checks access."""
    params = request.path_params
    project = f"/projects/{quote(params['project_slug'])}" if params.get("project_slug") else ""
    path = f"/spaces/{quote(params['space_slug'])}{project}/repositories/{quote(params['repository_slug'])}"
    path += f"/packages/{quote(canonicalize_name(params['name']))}/"
    if params.get("version"):
        path += quote(params["version"], safe="") + "/"
    return RedirectResponse(path, status_code=303)


def _repository_routes(root: str) -> list[Route]:
    return [
        Route(root + "/simple/", simple_index, methods=["GET", "HEAD"]),
        Route(root + "/simple/{project}/", simple_project, methods=["GET", "HEAD"]),
        Route(root + "/files/{file_id}/{filename}", repository_file, methods=["GET", "HEAD"]),
        Route(root + "/integrity/{project}/{version}/{filename}/provenance", provenance, methods=["GET", "HEAD"]),
        # twine does not follow redirects, so every spelling answers directly: legacy/ as the
        # reference has it, and the repository root as other indexes have it.
        *(Route(root + path, audited_upload, methods=["POST"]) for path in ("/legacy/", "/legacy", "/", "")),
        Route(root + "/legacy/{name}/", release_link, methods=["GET", "HEAD"]),
        Route(root + "/legacy/{name}", release_link, methods=["GET", "HEAD"]),
        Route(root + "/legacy/{name}/{version}/", release_link, methods=["GET", "HEAD"]),
    ]


routes = [
    *_repository_routes("/pypi/spaces/{space_slug}/repositories/{repository_slug}"),
    *_repository_routes("/pypi/spaces/{space_slug}/projects/{project_slug}/repositories/{repository_slug}"),
    Route("/pypi/files/{file_id}/{filename}", file_by_id, methods=["GET", "HEAD"]),
    Route("/pypi/remote/{file_id}/{filename}", file_by_id, methods=["GET", "HEAD"]),
]
