"""Project scopes and their access settings (the reference's "Project Scopes")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import scope_access, space_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response, principal
from qarion_pypi.api.payloads import DESCRIPTION, NAME, OPTIONAL_NAME, SLUG, Field, read_payload
from qarion_pypi.auth.permissions import GRANT_LEVELS, SPACE_MEMBER_LEVELS, Permission, effective_permission
from qarion_pypi.services.accounts import scopes, spaces

OPTIONAL_TEXT = Field(str, nullable=True, max_length=200)
MEMBER_LEVEL = Field(str, enum=SPACE_MEMBER_LEVELS)
GRANT = {
    "principal_type": Field(str, required=True, enum=("user", "team")),
    "principal_id": Field(str, required=True, max_length=36, description="the user's or team's id"),
    "access_level": Field(str, required=True, enum=tuple(GRANT_LEVELS)),
}
CREATE_SCOPE = {
    "name": NAME,
    "slug": SLUG,
    "description": DESCRIPTION,
    "source_type": OPTIONAL_TEXT,
    "source_id": OPTIONAL_TEXT,
    "source_metadata": Field(dict, nullable=True),
    "space_member_access_level": MEMBER_LEVEL,
}
UPDATE_SCOPE = {
    "name": OPTIONAL_NAME,
    "slug": SLUG,
    "description": DESCRIPTION,
    "space_member_access_level": MEMBER_LEVEL,
}
SCOPE_ACCESS = {
    "space_member_access_level": Field(str, required=True, enum=SPACE_MEMBER_LEVELS),
    "grants": Field(list, required=True, items=GRANT),
}


async def list_scopes(request: Request) -> Response:
    ctx = context(request)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    visible = await scopes.list_visible(ctx, await principal(request), space)
    return json_response([presenters.project_scope(row, held) for row, held in visible])


async def create_scope(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "create")
    payload = await read_payload(request, CREATE_SCOPE)
    row = await scopes.create_scope(context(request), access.principal, access.space, payload)
    return json_response(presenters.project_scope(row, access.permission), 201)


async def update_scope(request: Request) -> Response:
    payload = await read_payload(request, UPDATE_SCOPE)
    needed = scopes.permission_for_update(payload)
    access = await scope_access(request, needed, needed.label)
    row = await scopes.update_scope(context(request), access.principal, access.row, payload)
    return json_response(presenters.project_scope(row, access.permission))


async def read_scope_access(request: Request) -> Response:
    access = await scope_access(request, Permission.VIEW, "view")
    grants = await scopes.grants(context(request), access.row)
    return json_response(presenters.scope_access(access.row, grants, access.permission))


async def replace_scope_access(request: Request) -> Response:
    access = await scope_access(request, Permission.ADMIN, "admin")
    payload = await read_payload(request, SCOPE_ACCESS)
    ctx = context(request)
    level, grants = payload["space_member_access_level"], payload["grants"]
    await scopes.replace_access(ctx, access.principal, access.row, level, grants)
    scope = await scopes.get_scope(ctx, access.space, scope_id=access.row["id"])
    held = await effective_permission(ctx.db, access.principal, access.space["id"], scope["id"])
    return json_response(presenters.scope_access(scope, await scopes.grants(ctx, scope), held))


_SCOPES = "/spaces/{slug}/package-repositories/project-scopes"
_SCOPE = _SCOPES + "/{project_scope_id}"

ENDPOINTS = [
    Endpoint("GET", _SCOPES, list_scopes, "List project scopes"),
    Endpoint("POST", _SCOPES, create_scope, "Create a project scope", 201, CREATE_SCOPE, audit=("project_scope", None)),
    Endpoint("PATCH", _SCOPE, update_scope, "Update a project scope", body=UPDATE_SCOPE,
             audit=("project_scope", "project_scope_id")),
    Endpoint("GET", _SCOPE + "/access", read_scope_access, "Read project-scope access settings"),
    Endpoint("PUT", _SCOPE + "/access", replace_scope_access, "Replace project-scope access settings",
             body=SCOPE_ACCESS, audit=("project_scope", "project_scope_id")),
]  # fmt: skip
