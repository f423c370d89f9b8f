"""The data of the catalogue pages, in the management API's own JSON shapes (its presenters), so a
person sees in a page exactly what the API would show them; hidden things are NotFound."""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name
from starlette.requests import Request

from qarion_pypi.api import presenters
from qarion_pypi.api import repositories as api_repositories
from qarion_pypi.api.http import api_site, context
from qarion_pypi.auth.permissions import Permission, effective_permission
from qarion_pypi.auth.principal import Principal
from qarion_pypi.errors import NotFound
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.scanning import policy
from qarion_pypi.services.accounts import spaces
from qarion_pypi.services.catalog import packages, repositories
from qarion_pypi.web import release, snippets
from qarion_pypi.web.auth import viewer


async def _held(request: Request, caller: Principal, record: RepositoryRecord) -> Permission:
    held = await effective_permission(context(request).db, caller, record.space_id, record.project_scope_id, record.id)
    return max(held, Permission.VIEW) if record.visibility == "public" else held


async def _documents(request: Request, listed: list[tuple[RepositoryRecord, Permission]]) -> list[dict[str, Any]]:
    shown = await api_repositories.documents(request, listed)
    return [{**document, "page_path": record.page_path} for document, (record, _) in zip(shown, listed, strict=True)]


async def home(request: Request) -> list[dict[str, Any]]:
    """The spaces the viewer belongs to, each with the repositories they can see, and (for
    everyone) the public repositories of other spaces."""
    ctx, caller = context(request), await viewer(request)
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for space in await spaces.list_spaces(ctx, caller):
        try:
            listed = await repositories.list_visible(ctx, caller, space, include_archived=False)
        except NotFound:
            listed = []
        seen.update(record.id for record, _ in listed)
        found.append({**presenters.space(space), "repositories": await _documents(request, listed)})
    public = [record for record in await records.public(ctx.db) if record.id not in seen]
    if public:
        documents = await _documents(request, [(record, Permission.VIEW) for record in public])
        found.append({"slug": None, "name": "Public repositories", "repositories": documents})
    return found


async def repository(request: Request) -> tuple[RepositoryRecord, dict[str, Any]]:
    """The repository in the path with its packages (filtered by ``?q=``) and client snippets."""
    params = request.path_params
    ctx, caller = context(request), await viewer(request)
    record = await records.by_client_path(ctx.db, params["space"], params["repository"], params.get("project"))
    held = await _held(request, caller, record)
    if held < Permission.VIEW:
        raise NotFound("Repository not found.")
    document = (await _documents(request, [(record, held)]))[0]
    enforcement = await policy.enforcement(ctx, record.id)
    needle = canonicalize_name(request.query_params.get("q", "")[:200])
    views = [v for v in await packages.list_packages(ctx, record) if needle in v.package["normalized_name"]]
    document["packages"] = [presenters.package(view, api_site(request), enforcement) for view in views]
    upload_url = document["upload_url"] if record.upload_refusal() is None or record.virtual else None
    document["snippets"] = snippets.for_repository(
        record.slug, document["simple_index_url"], upload_url, record.visibility == "public"
    )
    return record, document


async def package(request: Request) -> dict[str, Any]:
    """A package with its versions (newest first, pre-release and yank marks) and one release in
    full: the path's version, or the latest."""
    record, document = await repository(request)
    ctx = context(request)
    view = await packages.get_package(ctx, record, request.path_params["name"])
    shown = presenters.package(view, api_site(request), await policy.enforcement(ctx, record.id))
    wanted = request.path_params.get("version") or shown["latest_version"] or (shown["versions"] or [None])[0]
    versions = []
    for version in shown["versions"]:
        files = [f for f in shown["files"] if f["version"] == version]
        yanked = all(f["yanked"] for f in files)
        versions.append({
            "version": version, "prerelease": packages.version_key(version).is_prerelease, "yanked": yanked,
            "yanked_reason": next((f["yanked_reason"] for f in files if f["yanked_reason"]), None) if yanked else None,
            "uploaded_at": min(f["uploaded_at"] for f in files),
        })  # fmt: skip
    chosen = next((v for v in versions if v["version"] == wanted), None)
    if chosen is None:
        raise NotFound("Release not found.")
    release_files = [f for f in view.files if f.version == chosen["version"]]
    requirements = await release.details(ctx, release_files)
    held = await packages.names_held(ctx, record, (d.name for d in requirements.dependencies))
    for dependency in requirements.dependencies:
        dependency.linked = dependency.name in held and dependency.name != view.package["normalized_name"]
    return {
        "repository": document,
        "package": shown,
        "versions": versions,
        "release": chosen,
        "files": [f for f in shown["files"] if f["version"] == chosen["version"]],
        "details": requirements,
        "page_path": f"{record.page_path}packages/{view.package['normalized_name']}/",
    }


async def find_project(request: Request, name: str) -> list[dict[str, Any]]:
    """The package pages for ``name`` in every repository the viewer can see."""
    ctx, caller = context(request), await viewer(request)
    found = []
    for record in await packages.repositories_holding(ctx, name):
        if await _held(request, caller, record) >= Permission.VIEW:
            found.append({"repository": record, "path": f"{record.page_path}packages/{canonicalize_name(name)}/"})
    return found
