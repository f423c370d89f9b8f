"""Repository management: create, list, read with packages, update, archive, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import api_site, context, json_response, principal
from qarion_pypi.api.payloads import DESCRIPTION, NAME, OPTIONAL_NAME, SLUG, Field, read_payload
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.repositories import records, settings
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.scanning import policy, summary
from qarion_pypi.services.accounts import spaces
from qarion_pypi.services.catalog import packages, repositories

KIND_SETTINGS = {
    "min_release_age": Field(
        str, nullable=True, max_length=16, description='proxy, virtual: hide upstream files younger than this ("7d")'
    ),
    "cooldown_allow": Field(list, item_kind=str, description="proxy, virtual: name==version let through the cooldown"),
    "cooldown_allow_undated": Field(bool, description="proxy, virtual: show upstream files without an upload time"),
    "require_attestations": Field(
        bool, description="hosted: refuse uploads without a verified PEP 740 attestation of a trusted publisher"
    ),
    "remote_url": Field(str, max_length=1000, description="proxy: the upstream Simple API index URL"),
    "cache_ttl": Field(int, description="proxy: seconds an upstream page stays fresh (default 3600)"),
    "file_mode": Field(
        str, enum=settings.FILE_MODES, description="proxy: stream files through and cache them, or redirect"
    ),
    "upstream_username": Field(str, nullable=True, max_length=200),
    "upstream_password": Field(str, nullable=True, max_length=1000),
    "members": Field(list, description="virtual: repository ids of this space, highest priority first"),
    "merge": Field(bool, description="virtual: take each version from the first member that has it"),
    "upload_target_id": Field(
        str, nullable=True, max_length=36, description="virtual: the hosted member uploads go to"
    ),
}
VISIBILITY = Field(str, enum=("private", "public"), description="public: pages and files answer without credentials")
CREATE_REPOSITORY = {
    "name": NAME,
    "slug": SLUG,
    "description": DESCRIPTION,
    "project_scope_id": Field(str, nullable=True, max_length=36),
    "project_scope_slug": Field(str, nullable=True, max_length=64),
    "kind": Field(str, enum=settings.KINDS),
    "visibility": VISIBILITY,
    **KIND_SETTINGS,
}
UPDATE_REPOSITORY = {
    "name": OPTIONAL_NAME,
    "description": DESCRIPTION,
    "is_active": Field(bool),
    "archived": Field(bool),
    "visibility": VISIBILITY,
    **KIND_SETTINGS,
}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in {"1", "true", "yes"}


async def documents(request: Request, listed: list[tuple[RepositoryRecord, Permission]]) -> list[dict[str, Any]]:
    """Repositories as the API shows them (with counts, members and security summaries)."""
    """Repository documents with their counts, members and security, in a few queries for all."""
    ctx = context(request)
    ids = [record.id for record, _ in listed]
    counts = await repositories.inventory(ctx, ids)
    security = await summary.security(ctx, ids)
    members = await records.member_ids(ctx.db, [record.id for record, _ in listed if record.virtual])
    site = api_site(request)
    return [
        presenters.repository(record, counts[record.id], held, site, members.get(record.id), security[record.id])
        for record, held in listed
    ]


async def create_repository(request: Request) -> Response:
    ctx = context(request)
    payload = await read_payload(request, CREATE_REPOSITORY)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    record, held = await repositories.create_repository(ctx, await principal(request), space, payload)
    return json_response((await documents(request, [(record, held)]))[0], 201)


async def list_repositories(request: Request) -> Response:
    ctx = context(request)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    include_archived = _flag(request, "include_archived")
    visible = await repositories.list_visible(ctx, await principal(request), space, include_archived=include_archived)
    return json_response(await documents(request, visible))


async def read_repository(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    ctx = context(request)
    document = (await documents(request, [(access.row, access.permission)]))[0]
    enforcement = await policy.enforcement(ctx, access.row.id)
    views = await packages.list_packages(ctx, access.row)
    document["packages"] = [presenters.package(view, api_site(request), enforcement) for view in views]
    return json_response(document)


async def update_repository(request: Request) -> Response:
    payload = await read_payload(request, UPDATE_REPOSITORY)
    access = await repository_access(request, *repositories.permission_for_update(payload))
    record = await repositories.update_repository(context(request), access.principal, access.row, payload)
    return json_response((await documents(request, [(record, access.permission)]))[0])


async def archive_repository(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    record = await repositories.update_repository(context(request), access.principal, access.row, {"archived": True})
    return json_response((await documents(request, [(record, access.permission)]))[0])


async def delete_repository(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "delete")
    await repositories.delete_repository(context(request), access.row)
    return Response(status_code=204)


_REPOS = "/spaces/{slug}/package-repositories"
_REPO = _REPOS + "/{repository_id}"

ENDPOINTS = [
    Endpoint("POST", _REPOS, create_repository, "Create a repository", 201, CREATE_REPOSITORY,
             audit=("repository", None)),
    Endpoint("GET", _REPOS, list_repositories, "List repositories", query={"include_archived": "boolean"}),
    Endpoint("GET", _REPO, read_repository, "Read a repository with its packages"),
    Endpoint("PATCH", _REPO, update_repository, "Update repository metadata or flags", body=UPDATE_REPOSITORY,
             audit=("repository", "repository_id")),
    Endpoint("DELETE", _REPO, delete_repository, "Permanently delete a repository", 204,
             audit=("repository", "repository_id")),
    Endpoint("POST", _REPO + "/archive", archive_repository, "Archive a repository",
             audit=("repository", "repository_id")),
]  # fmt: skip
