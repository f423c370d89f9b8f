"""Management routes under /api/v1.0 (the seed's paths and DESIGN.md's platform API)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qarion_pypi.api import presenters
from qarion_pypi.api.access import file_access, repository_access, space_access
from qarion_pypi.api.http import base_url, context, json_response, principal, read_json
from qarion_pypi.api.payloads import NAME, Field, max_length, one_of, validate
from qarion_pypi.api.uploading import receive_upload
from qarion_pypi.auth.permissions import ROLE_PERMISSIONS, Permission, effective_permission
from qarion_pypi.errors import BadRequest, Forbidden, NotFound
from qarion_pypi.services import files, packages, repositories, spaces, users

SLUG = Field(str, check=max_length(64))
DESCRIPTION = Field(str, check=max_length(10_000))


async def _platform_admin(request: Request) -> None:
    caller = await principal(request)
    if not caller.is_admin:
        raise Forbidden("You lack admin access to the platform.")


# -- platform ----------------------------------------------------------------------------------


async def me(request: Request) -> Response:
    ctx = context(request)
    caller = await principal(request)
    member_of = []
    for space in await spaces.list_spaces(ctx, caller):
        held = await effective_permission(ctx.db, caller, space["id"])
        member_of.append({**presenters.space(space), "effective_permissions": held.granted()})
    return json_response(
        {
            "id": caller.user_id,
            "username": caller.username,
            "is_admin": caller.is_admin,
            "teams": [],
            "spaces": member_of,
        }
    )


async def create_user(request: Request) -> Response:
    await _platform_admin(request)
    payload = validate(await read_json(request), {"username": Field(str, required=True), "is_admin": Field(bool)})
    row = await users.create_user(context(request), payload["username"], is_admin=payload.get("is_admin", False))
    return json_response(presenters.user(row), 201)


async def list_users(request: Request) -> Response:
    await _platform_admin(request)
    return json_response([presenters.user(row) for row in await users.list_users(context(request))])


async def _key_owner(request: Request) -> dict[str, object]:
    caller = await principal(request)
    username = request.path_params["username"]
    if caller.username != username and not caller.is_admin:
        raise NotFound(f"User {username!r} not found.")
    owner = await users.get_user(context(request), username)
    assert owner is not None
    return dict(owner)


async def create_api_key(request: Request) -> Response:
    owner = await _key_owner(request)
    payload = validate(await read_json(request), {"name": NAME})
    row, key = await users.create_api_key(context(request), owner, payload["name"])
    return json_response(presenters.api_key(row, key), 201)


async def create_space(request: Request) -> Response:
    await _platform_admin(request)
    payload = validate(await read_json(request), {"name": NAME, "slug": SLUG})
    row = await spaces.create_space(context(request), await principal(request), payload["name"], payload.get("slug"))
    return json_response(presenters.space(row), 201)


async def list_spaces(request: Request) -> Response:
    rows = await spaces.list_spaces(context(request), await principal(request))
    return json_response([presenters.space(row) for row in rows])


async def put_space_member(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "admin")
    payload = validate(await read_json(request), {"role": Field(str, required=True, check=one_of(*ROLE_PERMISSIONS))})
    member = await spaces.set_member(context(request), access.space, request.path_params["username"], payload["role"])
    return json_response(member)


async def list_space_members(request: Request) -> Response:
    access = await space_access(request, Permission.VIEW, "view")
    return json_response(list(await spaces.list_members(context(request), access.space)))


# -- repositories --------------------------------------------------------------------------------


async def create_repository(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "create")
    payload = validate(
        await read_json(request),
        {
            "name": NAME,
            "slug": SLUG,
            "description": DESCRIPTION,
            "project_scope_id": Field(str, nullable=True),
            "project_scope_slug": Field(str, nullable=True),
        },
    )
    if payload.get("project_scope_id") or payload.get("project_scope_slug"):
        raise BadRequest("Project-scoped repositories are not available yet; omit the project scope.")
    ctx = context(request)
    row = await repositories.create_repository(
        ctx, access.principal, access.space, payload["name"], payload.get("slug"), payload.get("description", "")
    )
    return json_response(presenters.repository(row, access.space, (0, 0), access.permission, base_url(request)), 201)


async def list_repositories(request: Request) -> Response:
    ctx = context(request)
    access = await space_access(request, Permission.VIEW, "view")
    include_archived = request.query_params.get("include_archived", "false").lower() in {"1", "true", "yes"}
    rows = await repositories.list_repositories(ctx, access.space, include_archived=include_archived)
    counts = await repositories.inventory(ctx, [row["id"] for row in rows])
    base = base_url(request)
    documents = []
    for row in rows:
        held = await effective_permission(ctx.db, access.principal, access.space["id"], row)
        if held >= Permission.VIEW:
            documents.append(presenters.repository(row, access.space, counts[row["id"]], held, base))
    return json_response(documents)


async def read_repository(request: Request) -> Response:
    ctx = context(request)
    access = await repository_access(request, Permission.VIEW, "view")
    counts = await repositories.inventory(ctx, [access.repository["id"]])
    base = base_url(request)
    document = presenters.repository(
        access.repository, access.space, counts[access.repository["id"]], access.permission, base
    )
    views = await packages.list_packages(ctx, access.repository)
    document["packages"] = [presenters.package(view, base, with_files=False) for view in views]
    return json_response(document)


async def list_packages(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    views = await packages.list_packages(context(request), access.repository)
    base = base_url(request)
    return json_response([presenters.package(view, base, with_files=False) for view in views])


async def read_package(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    view = await packages.get_package(context(request), access.repository, request.path_params["package_name"])
    return json_response(presenters.package(view, base_url(request)))


async def upload_file(request: Request) -> Response:
    access = await repository_access(request, Permission.PUBLISH, "publish")
    outcome = await receive_upload(request, access.principal, access.repository, file_field="file", legacy=False)
    base = base_url(request)
    document = {
        "package": presenters.package(packages.PackageView(outcome.package), base, with_files=False),
        "version": outcome.file["version"],
        "file": presenters.file(outcome.file, base),
    }
    return json_response(document, 201 if outcome.created else 200)


async def yank_file(request: Request) -> Response:
    access = await file_access(request, Permission.EDIT, "yank")
    payload = validate(
        await read_json(request),
        {
            "yanked": Field(bool, required=True),
            "reason": Field(str, nullable=True, check=max_length(files.MAX_YANK_REASON)),
        },
    )
    row = await files.set_yanked(
        context(request), access.principal, access.file, payload["yanked"], payload.get("reason")
    )
    return json_response(presenters.file(row, base_url(request)))


async def delete_file(request: Request) -> Response:
    access = await file_access(request, Permission.EDIT, "delete")
    await files.delete_file(context(request), access.principal, access.file)
    return Response(status_code=204)


_SPACE = "/spaces/{slug}"
_REPOS = _SPACE + "/package-repositories"
_REPO = _REPOS + "/{repository_id}"

routes = [
    Route("/me", me, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users", list_users, methods=["GET"]),
    Route("/users/{username}/api-keys", create_api_key, methods=["POST"]),
    Route("/spaces", create_space, methods=["POST"]),
    Route("/spaces", list_spaces, methods=["GET"]),
    Route(_SPACE + "/members", list_space_members, methods=["GET"]),
    Route(_SPACE + "/members/{username}", put_space_member, methods=["PUT"]),
    Route(_REPOS, create_repository, methods=["POST"]),
    Route(_REPOS, list_repositories, methods=["GET"]),
    Route(_REPOS + "/files/{file_id}/yank", yank_file, methods=["PATCH"]),
    Route(_REPOS + "/files/{file_id}", delete_file, methods=["DELETE"]),
    Route(_REPO, read_repository, methods=["GET"]),
    Route(_REPO + "/packages", list_packages, methods=["GET"]),
    Route(_REPO + "/packages/{package_name}", read_package, methods=["GET"]),
    Route(_REPO + "/files", upload_file, methods=["POST"]),
]
