"""pip, uv and twine endpoints: simple pages, legacy upload, downloads (PEP 503/691/658/700)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from packaging.utils import canonicalize_name
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from qarion_pypi.api.auditing import audited
from qarion_pypi.api.blobs import BlobResponse
from qarion_pypi.api.http import context, credential_key, link_prefix, principal
from qarion_pypi.api.sources import source_for
from qarion_pypi.api.uploading import receive_upload, upload_target
from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.auth.principal import Principal
from qarion_pypi.db import Row
from qarion_pypi.errors import NotFound
from qarion_pypi.repositories.base import SimpleSource
from qarion_pypi.scanning import policy
from qarion_pypi.services import core_metadata, files, proxy, repositories
from qarion_pypi.services.naming import is_uuid
from qarion_pypi.simple import render
from qarion_pypi.simple.cache import RenderedPage, make_page
from qarion_pypi.simple.negotiate import SUPPORTED, Choice, NotAcceptable, negotiate


async def _repository(request: Request, needed: Permission, action: str) -> tuple[Row, Principal]:
    """The repository in the path and the caller: 401 before anything else, then 404/403."""
    ctx = context(request)
    params = request.path_params

    slugs = (params["space_slug"], params["repository_slug"], params.get("project_slug"))

    async def resolve() -> tuple[Row, Principal, Permission]:
        caller = await principal(request)
        repository = await repositories.resolve_client_repository(ctx, *slugs)
        held = await effective_permission(ctx.db, caller, repository["space_id"], repository["project_scope_id"])
        return repository, caller, held

    key = ("repository", credential_key(request), *slugs)
    repository, caller, held = await ctx.memo.get(key, resolve)
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
    request: Request, repository: Row, project: str | None, choice: Choice, build: Callable[[], Awaitable[bytes | None]]
) -> Response:
    """Hosted pages are cached per repository serial; proxy and virtual pages change with their
    upstream and members, so they are rendered each time (from the proxy's own page cache)."""
    ctx = context(request)
    cacheable = repository["kind"] == "hosted"
    key = (repository["id"], repository["serial"], project, choice.media_type, link_prefix(request))
    page = ctx.pages.get(key) if cacheable else None
    if page is None:
        body = await build()
        if body is None:
            raise NotFound("Project not found.")
        page = make_page(body, choice.content_type)
        if cacheable:
            ctx.pages.put(key, page)
    return _page_response(request, page)


async def _source(request: Request, repository: Row) -> SimpleSource:
    return await source_for(context(request), repository, link_prefix(request))


async def simple_index(request: Request) -> Response:
    repository, _ = await _repository(request, Permission.VIEW, "view")
    choice = _negotiate(request)
    if isinstance(choice, Response):
        return choice

    async def build() -> bytes:
        projects = await (await _source(request, repository)).project_list()
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

    async def build() -> bytes | None:
        page = await (await _source(request, repository)).project_page(normalized)
        if page is None:
            return None
        return render.project_page_json(page) if choice.is_json else render.project_page_html(page)

    return await _cached(request, repository, normalized, choice, build)


async def legacy_upload(request: Request) -> Response:
    repository, caller = await _repository(request, Permission.PUBLISH, "publish")
    repository = await upload_target(request, caller, repository)
    await receive_upload(request, caller, repository, file_field="content", legacy=True)
    return PlainTextResponse("OK")


async def download(request: Request) -> Response:
    ctx = context(request)
    file_id = request.path_params["file_id"]

    async def resolve() -> tuple[Row, Permission, bool]:
        caller = await principal(request)
        file = await files.get_file(ctx, file_id)
        held = await effective_permission(ctx.db, caller, file["space_id"], file["project_scope_id"])
        blocked = (await policy.enforcement(ctx, file["repository_id"])).file_reason(file) is not None
        return file, held, blocked

    file, held, blocked = await ctx.memo.get(("file", credential_key(request), file_id), resolve)
    require(held, Permission.VIEW, "view", "file")
    if blocked:  # a vulnerability-blocked file is, for package clients, not there
        raise NotFound("File not found.")
    requested = request.path_params["filename"]
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}
    if requested == file["filename"]:
        path = ctx.blobs.local_path(file["sha256"])
        if path is None:
            raise NotFound("File not found.")
        return BlobResponse(path, headers={**headers, "ETag": f'"{file["sha256"]}"'})
    if requested == file["filename"] + ".metadata" and file["metadata_sha256"]:
        body = await core_metadata.load(ctx, file["metadata_sha256"])
        return Response(
            body, media_type="text/plain; charset=utf-8", headers={**headers, "ETag": f'"{file["metadata_sha256"]}"'}
        )
    raise NotFound("File not found.")


async def remote_download(request: Request) -> Response:
    """A proxy's file: from the blob store once cached, else fetched, verified and cached first
    (or, in redirect mode, a redirect to the upstream's URL)."""
    ctx = context(request)
    file_id = request.path_params["file_id"]

    async def resolve() -> tuple[Row, Row, Permission]:
        caller = await principal(request)
        file = await proxy.get_file(ctx, file_id) if is_uuid(file_id) else None
        if file is None:
            raise NotFound("File not found.")
        repository = await repositories.get_by_id(ctx, file["repository_id"])
        return file, repository, await effective_permission(ctx.db, caller, file["space_id"], file["project_scope_id"])

    file, repository, held = await ctx.memo.get(("remote", credential_key(request), file_id), resolve)
    require(held, Permission.VIEW, "view", "file")
    requested = request.path_params["filename"]
    if requested == file["filename"] + ".metadata":
        body = await proxy.metadata(ctx, repository, file)
        return Response(body, media_type="text/plain; charset=utf-8")
    if requested != file["filename"]:
        raise NotFound("File not found.")
    headers = {"ETag": f'"{file["sha256"]}"', "Cache-Control": "private, max-age=31536000, immutable"}
    digest = await proxy.cached_blob(ctx, file)
    path = ctx.blobs.local_path(digest) if digest else None
    if path is not None:
        return BlobResponse(path, headers=headers)
    if repository["file_mode"] == "redirect":
        return RedirectResponse(file["url"], status_code=302)
    upstream = await proxy.open_upstream(ctx, repository, file)  # a 503 here, before any byte is sent
    return StreamingResponse(
        proxy.stream_through(ctx, file, upstream), media_type="application/octet-stream", headers=headers
    )


audited_upload = audited("upload", "file")(legacy_upload)


def _repository_routes(root: str) -> list[Route]:
    return [
        Route(root + "/simple/", simple_index, methods=["GET", "HEAD"]),
        Route(root + "/simple/{project}/", simple_project, methods=["GET", "HEAD"]),
        # twine does not follow redirects, so both spellings answer directly.
        Route(root + "/legacy/", audited_upload, methods=["POST"]),
        Route(root + "/legacy", audited_upload, methods=["POST"]),
    ]


routes = [
    *_repository_routes("/pypi/spaces/{space_slug}/repositories/{repository_slug}"),
    *_repository_routes("/pypi/spaces/{space_slug}/projects/{project_slug}/repositories/{repository_slug}"),
    Route("/pypi/files/{file_id}/{filename}", download, methods=["GET", "HEAD"]),
    Route("/pypi/remote/{file_id}/{filename}", remote_download, methods=["GET", "HEAD"]),
]
