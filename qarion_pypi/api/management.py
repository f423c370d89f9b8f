"""Management routes under /api/v1.0: the seed's paths and DESIGN.md's platform API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from packaging.version import InvalidVersion, Version
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qarion_pypi.api import presenters, scanning
from qarion_pypi.api.access import Access, file_access, repository_access, scope_access, space_access
from qarion_pypi.api.endpoints import Endpoint, openapi
from qarion_pypi.api.http import API_PREFIX, base_url, context, json_response, principal, read_json
from qarion_pypi.api.jobs import job_status, queue_job
from qarion_pypi.api.payloads import DESCRIPTION, NAME, OPTIONAL_NAME, SLUG, Field, validate
from qarion_pypi.api.uploading import receive_upload, upload_target
from qarion_pypi.auth.permissions import (
    GRANT_LEVELS,
    ROLE_PERMISSIONS,
    SPACE_MEMBER_LEVELS,
    Permission,
    effective_permission,
    require,
)
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.errors import FieldError, Forbidden, NotFound, ValidationFailed
from qarion_pypi.resolver.target import target_from
from qarion_pypi.scanning import policy, summary
from qarion_pypi.services import (
    audit,
    dependency_preview,
    files,
    imports,
    kinds,
    packages,
    repositories,
    retention,
    scopes,
    spaces,
    teams,
    upstream_preview,
    users,
)
from qarion_pypi.services.naming import USERNAME_PATTERN

OPTIONAL_TEXT = Field(str, nullable=True, max_length=200)
MEMBER_LEVEL = Field(str, enum=SPACE_MEMBER_LEVELS)
GRANT = {
    "principal_type": Field(str, required=True, enum=("user", "team")),
    "principal_id": Field(str, required=True, max_length=36, description="the user's or team's id"),
    "access_level": Field(str, required=True, enum=tuple(GRANT_LEVELS)),
}
NAMED = {"name": NAME, "slug": SLUG}
CREATE_USER = {"username": Field(str, required=True, max_length=64, pattern=USERNAME_PATTERN), "is_admin": Field(bool)}
CREATE_KEY = {"name": NAME}
SPACE_ROLE = {"role": Field(str, required=True, enum=tuple(ROLE_PERMISSIONS))}
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
KIND_SETTINGS = {
    "remote_url": Field(str, max_length=1000, description="proxy: the upstream Simple API index URL"),
    "cache_ttl": Field(int, description="proxy: seconds an upstream page stays fresh (default 3600)"),
    "file_mode": Field(
        str, enum=kinds.FILE_MODES, description="proxy: stream files through and cache them, or redirect"
    ),
    "upstream_username": Field(str, nullable=True, max_length=200),
    "upstream_password": Field(str, nullable=True, max_length=1000),
    "members": Field(list, description="virtual: repository ids of this space, highest priority first"),
    "merge": Field(bool, description="virtual: take each version from the first member that has it"),
    "upload_target_id": Field(
        str, nullable=True, max_length=36, description="virtual: the hosted member uploads go to"
    ),
}
CREATE_REPOSITORY = {
    "name": NAME,
    "slug": SLUG,
    "description": DESCRIPTION,
    "project_scope_id": Field(str, nullable=True, max_length=36),
    "project_scope_slug": Field(str, nullable=True, max_length=64),
    "kind": Field(str, enum=kinds.KINDS),
    **KIND_SETTINGS,
}
UPDATE_REPOSITORY = {
    "name": OPTIONAL_NAME,
    "description": DESCRIPTION,
    "is_active": Field(bool),
    "archived": Field(bool),
    **KIND_SETTINGS,
}
RETENTION_RULE = {
    "name": NAME,
    "match_version_regex": Field(str, nullable=True, max_length=500, description="only versions this matches"),
    "prereleases_only": Field(bool),
    "max_age_days": Field(int, nullable=True, description="keep releases younger than this"),
    "keep_latest": Field(int, nullable=True, description="keep the newest N matching releases per package"),
}
RETENTION_RULES = {"rules": Field(list, required=True, items=RETENTION_RULE)}
RETENTION_RUN = {"dry_run": Field(bool, description="list what would go and delete nothing (default true)")}
DEPENDENCY_PREVIEW = {
    "package_name": Field(str, required=True, max_length=200, non_blank=True),
    "version": Field(str, required=True, max_length=100, non_blank=True),
    "selected_filenames": Field(
        list, item_kind=str, description="root files to import (default: those fitting the target)"
    ),
    "python_tags": Field(list, required=True, item_kind=str, description='e.g. ["cp311"]'),
    "platform_tags": Field(list, item_kind=str, description='e.g. ["macosx_11_0_arm64"]'),
    "include_sdists": Field(bool),
    "include_universal_wheels": Field(bool),
}
IMPORT = {
    **DEPENDENCY_PREVIEW,
    "include_dependencies": Field(bool, description="import dependencies at all (default true)"),
    "include_all_dependencies": Field(bool, description="every resolved artifact, ignoring the selection"),
    "selected_dependency_artifacts": Field(
        list,
        items={
            "normalized_name": Field(str, required=True),
            "version": Field(str, required=True),
            "filename": Field(str, required=True),
        },
        description="the dependency artifacts to import (default: all resolved ones)",
    ),
}
YANK = {"yanked": Field(bool, required=True), "reason": Field(str, nullable=True, max_length=files.MAX_YANK_REASON)}


async def _platform_admin(request: Request) -> None:
    if not (await principal(request)).is_admin:
        raise Forbidden("You lack admin access to the platform.")


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in {"1", "true", "yes"}


# -- platform ----------------------------------------------------------------------------------


async def me(request: Request) -> Response:
    ctx = context(request)
    caller = await principal(request)
    member_of = []
    for space in await spaces.list_spaces(ctx, caller):
        held = await effective_permission(ctx.db, caller, space["id"])
        member_of.append({**presenters.space(space), "effective_permissions": held.granted()})
    my_teams = await teams.teams_of(ctx, caller.user_id)
    return json_response(
        {
            "id": caller.user_id,
            "username": caller.username,
            "is_admin": caller.is_admin,
            "teams": [{"id": team["id"], "slug": team["slug"], "name": team["name"]} for team in my_teams],
            "spaces": member_of,
        }
    )


async def create_user(request: Request) -> Response:
    await _platform_admin(request)
    payload = validate(await read_json(request), CREATE_USER)
    row = await users.create_user(context(request), payload["username"], is_admin=payload.get("is_admin", False))
    return json_response(presenters.user(row), 201)


async def list_users(request: Request) -> Response:
    await _platform_admin(request)
    return json_response([presenters.user(row) for row in await users.list_users(context(request))])


async def _key_owner(request: Request) -> dict[str, Any]:
    """The user named in the path, when the caller is that user or a platform admin."""
    caller = await principal(request)
    username = request.path_params["username"]
    if caller.username != username and not caller.is_admin:
        raise NotFound(f"User {username!r} not found.")
    return dict(await users.require_user(context(request), username))


async def create_api_key(request: Request) -> Response:
    owner = await _key_owner(request)
    payload = validate(await read_json(request), CREATE_KEY)
    row, key = await users.create_api_key(context(request), owner, payload["name"])
    return json_response(presenters.api_key(row, key), 201)


async def list_api_keys(request: Request) -> Response:
    owner = await _key_owner(request)
    return json_response([presenters.api_key(row) for row in await users.list_api_keys(context(request), owner)])


async def revoke_api_key(request: Request) -> Response:
    owner = await _key_owner(request)
    await users.revoke_api_key(context(request), owner, request.path_params["key_id"])
    return Response(status_code=204)


async def create_team(request: Request) -> Response:
    await _platform_admin(request)
    payload = validate(await read_json(request), NAMED)
    row = await teams.create_team(context(request), await principal(request), payload["name"], payload.get("slug"))
    return json_response(presenters.team(row, []), 201)


async def list_teams(request: Request) -> Response:
    ctx = context(request)
    rows = await teams.list_teams(ctx, await principal(request))
    members = await teams.members(ctx, [row["id"] for row in rows])
    return json_response([presenters.team(row, members[row["id"]]) for row in rows])


async def put_team_member(request: Request) -> Response:
    await _platform_admin(request)
    ctx = context(request)
    team = await teams.get_team(ctx, request.path_params["team"])
    await teams.add_member(ctx, team, request.path_params["username"])
    return json_response(presenters.team(team, (await teams.members(ctx, [team["id"]]))[team["id"]]))


async def delete_team_member(request: Request) -> Response:
    await _platform_admin(request)
    ctx = context(request)
    team = await teams.get_team(ctx, request.path_params["team"])
    await teams.remove_member(ctx, team, request.path_params["username"])
    return Response(status_code=204)


async def create_space(request: Request) -> Response:
    await _platform_admin(request)
    payload = validate(await read_json(request), NAMED)
    row = await spaces.create_space(context(request), await principal(request), payload["name"], payload.get("slug"))
    return json_response(presenters.space(row), 201)


async def list_spaces(request: Request) -> Response:
    rows = await spaces.list_spaces(context(request), await principal(request))
    return json_response([presenters.space(row) for row in rows])


async def list_space_members(request: Request) -> Response:
    access = await space_access(request, Permission.VIEW, "view")
    return json_response(list(await spaces.list_members(context(request), access.space)))


async def put_space_member(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "admin")
    payload = validate(await read_json(request), SPACE_ROLE)
    member = await spaces.set_member(context(request), access.space, request.path_params["username"], payload["role"])
    return json_response(member)


async def delete_space_member(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "admin")
    await spaces.remove_member(context(request), access.space, request.path_params["username"])
    return Response(status_code=204)


# -- project scopes ------------------------------------------------------------------------------


async def _visible(request: Request, space: Row, rows: list[Row], scope_of: str) -> list[tuple[Row, Permission]]:
    """The rows of a space listing the caller may see (a scope grant is enough without membership);
    404 when the caller sees neither any of them nor the space itself."""
    ctx = context(request)
    caller = await principal(request)
    held: dict[str | None, Permission] = {None: await effective_permission(ctx.db, caller, space["id"])}
    visible = []
    for row in rows:
        scope_id = row[scope_of]
        if scope_id not in held:
            held[scope_id] = await effective_permission(ctx.db, caller, space["id"], scope_id)
        if held[scope_id] >= Permission.VIEW:
            visible.append((row, held[scope_id]))
    if held[None] < Permission.VIEW and not visible:
        raise NotFound("Space not found.")
    return visible


async def list_scopes(request: Request) -> Response:
    ctx = context(request)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    visible = await _visible(request, space, await scopes.list_scopes(ctx, space), "id")
    return json_response([presenters.project_scope(row, held) for row, held in visible])


async def create_scope(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "create")
    payload = validate(await read_json(request), CREATE_SCOPE)
    row = await scopes.create_scope(context(request), access.principal, access.space, payload)
    return json_response(presenters.project_scope(row, access.permission), 201)


async def update_scope(request: Request) -> Response:
    payload = validate(await read_json(request), UPDATE_SCOPE)
    needed = Permission.ADMIN if "space_member_access_level" in payload else Permission.EDIT
    access = await scope_access(request, needed, needed.label)
    row = await scopes.update_scope(context(request), access.principal, access.row, payload)
    return json_response(presenters.project_scope(row, access.permission))


async def read_scope_access(request: Request) -> Response:
    access = await scope_access(request, Permission.VIEW, "view")
    grants = await scopes.grants(context(request), access.row)
    return json_response(presenters.scope_access(access.row, grants, access.permission))


async def replace_scope_access(request: Request) -> Response:
    access = await scope_access(request, Permission.ADMIN, "admin")
    payload = validate(await read_json(request), SCOPE_ACCESS)
    grants = payload["grants"]
    ctx = context(request)
    await scopes.replace_access(ctx, access.principal, access.row, payload["space_member_access_level"], grants)
    scope = await scopes.get_scope(ctx, access.space, scope_id=access.row["id"])
    held = await effective_permission(ctx.db, access.principal, access.space["id"], scope["id"])
    return json_response(presenters.scope_access(scope, await scopes.grants(ctx, scope), held))


# -- repositories --------------------------------------------------------------------------------


async def create_repository(request: Request) -> Response:
    ctx = context(request)
    payload = validate(await read_json(request), CREATE_REPOSITORY)
    if payload.get("project_scope_id") and payload.get("project_scope_slug"):
        raise ValidationFailed(
            "Use either project_scope_id or project_scope_slug, not both.",
            [FieldError("project_scope_id", "give only one scope selector"),
             FieldError("project_scope_slug", "give only one scope selector")],
        )  # fmt: skip
    caller = await principal(request)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    scope = None
    if payload.get("project_scope_id") or payload.get("project_scope_slug"):
        scope = await scopes.get_scope(
            ctx, space, scope_id=payload.get("project_scope_id"), slug=payload.get("project_scope_slug")
        )
    held = await effective_permission(ctx.db, caller, space["id"], scope["id"] if scope else None)
    require(held, Permission.ADMIN, "create", "project scope" if scope else "space")
    row = await repositories.create_repository(ctx, caller, space, payload, scope)
    members = (await _members_of(ctx, [row])).get(row["id"])
    security = (await summary.security(ctx, [row["id"]]))[row["id"]]
    return json_response(presenters.repository(row, (0, 0), held, base_url(request), members, security), 201)


async def list_repositories(request: Request) -> Response:
    ctx = context(request)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    rows = await repositories.list_repositories(ctx, space, include_archived=_flag(request, "include_archived"))
    visible = await _visible(request, space, rows, "project_scope_id")
    ids = [row["id"] for row, _ in visible]
    counts = await repositories.inventory(ctx, ids)
    security = await summary.security(ctx, ids)
    base = base_url(request)
    members = await _members_of(ctx, [row for row, _ in visible])
    return json_response(
        [
            presenters.repository(row, counts[row["id"]], held, base, members.get(row["id"]), security[row["id"]])
            for row, held in visible
        ]
    )


async def _members_of(ctx: Context, rows: list[Row]) -> dict[str, list[str]]:
    return await kinds.member_ids(ctx, [row["id"] for row in rows if row["kind"] == "virtual"])


async def _repository_document(request: Request, access: Access, *, with_packages: bool) -> dict[str, Any]:
    ctx = context(request)
    repository = access.row
    counts = await repositories.inventory(ctx, [repository["id"]])
    base = base_url(request)
    members = (await _members_of(ctx, [repository])).get(repository["id"])
    security = (await summary.security(ctx, [repository["id"]]))[repository["id"]]
    document = presenters.repository(repository, counts[repository["id"]], access.permission, base, members, security)
    if with_packages:
        views = await packages.list_packages(ctx, repository)
        document["packages"] = [presenters.package(view, base) for view in views]
    return document


async def read_repository(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    return json_response(await _repository_document(request, access, with_packages=True))


async def update_repository(request: Request) -> Response:
    payload = validate(await read_json(request), UPDATE_REPOSITORY)
    lifecycle = any(name in payload for name in ("is_active", "archived", *KIND_SETTINGS))
    needed, action = (Permission.ADMIN, "admin") if lifecycle else (Permission.EDIT, "edit")
    access = await repository_access(request, needed, action)
    row = await repositories.update_repository(context(request), access.principal, access.row, payload)
    return json_response(await _repository_document(request, access.with_row(row), with_packages=False))


async def archive_repository(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    row = await repositories.update_repository(context(request), access.principal, access.row, {"archived": True})
    return json_response(await _repository_document(request, access.with_row(row), with_packages=False))


async def delete_repository(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "delete")
    await repositories.delete_repository(context(request), access.row)
    return Response(status_code=204)


async def read_retention_rules(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    rows = await retention.get_rules(context(request), access.row)
    return json_response({"rules": [presenters.retention_rule(row) for row in rows]})


async def replace_retention_rules(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    payload = validate(await read_json(request), RETENTION_RULES)
    rows = await retention.replace_rules(context(request), access.row, payload["rules"])
    return json_response({"rules": [presenters.retention_rule(row) for row in rows]})


async def start_retention_run(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "delete")
    payload = validate(await read_json(request), RETENTION_RUN)
    params = {"dry_run": payload.get("dry_run", True)}
    return await queue_job(request, access, retention.JOB_KIND, params)


async def read_retention_run(request: Request) -> Response:
    return await job_status(request, retention.JOB_KIND)


async def preview_upstream_package(request: Request) -> Response:
    ctx = context(request)
    await repository_access(request, Permission.ADMIN, "admin")
    fetched = await upstream_preview.upstream_project(ctx, request.path_params["package_name"])
    summaries = upstream_preview.versions(fetched)
    newest = upstream_preview.latest(summaries)
    assert fetched.page is not None
    return json_response(
        {
            "name": fetched.page.name,
            "normalized_name": fetched.page.normalized_name,
            "summary": await upstream_preview.summary_of(ctx, summaries[newest].files) if newest else "",
            "latest_version": newest,
            "versions": [summary.as_dict() for summary in summaries.values()],
        }
    )


async def preview_upstream_release(request: Request) -> Response:
    ctx = context(request)
    await repository_access(request, Permission.ADMIN, "admin")
    fetched = await upstream_preview.upstream_project(ctx, request.path_params["package_name"])
    summaries = upstream_preview.versions(fetched)
    wanted = request.path_params["version"]
    release = next((s for v, s in summaries.items() if v == wanted or _same_version(v, wanted)), None)
    if release is None or not release.files:
        raise NotFound(f"Version {wanted!r} has no supported files on the upstream index.")
    assert fetched.page is not None
    return json_response(
        {
            "name": fetched.page.name,
            "normalized_name": fetched.page.normalized_name,
            "version": release.version,
            "files": [upstream_preview.describe_file(entry) for entry in release.files],
        }
    )


async def preview_import_dependencies(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    payload = validate(await read_json(request), DEPENDENCY_PREVIEW)
    return json_response(await dependency_preview.preview(context(request), access.row, payload))


async def start_import(request: Request) -> Response:
    ctx = context(request)
    access = await repository_access(request, Permission.ADMIN, "admin")
    payload = validate(await read_json(request), IMPORT)
    target_from(payload["python_tags"], payload.get("platform_tags") or [])  # 422 now, not a failed job later
    await upstream_preview.upstream_project(ctx, payload["package_name"])  # 503 without an upstream, 404 if unknown
    await repositories.upload_target(ctx, access.row)  # only hosted repositories take files
    return await queue_job(request, access, imports.JOB_KIND, payload)


async def read_import_job(request: Request) -> Response:
    return await job_status(request, imports.JOB_KIND)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


async def list_packages(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    views = await packages.list_packages(context(request), access.row)
    base = base_url(request)
    return json_response([presenters.package(view, base) for view in views])


async def read_package(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    ctx = context(request)
    view = await packages.get_package(ctx, access.row, request.path_params["package_name"])
    return json_response(presenters.package(view, base_url(request), await policy.enforcement(ctx, access.row["id"])))


async def upload_file(request: Request) -> Response:
    access = await repository_access(request, Permission.PUBLISH, "publish")
    target = await upload_target(request, access.principal, access.row)
    outcome = await receive_upload(request, access.principal, target, file_field="file", legacy=False)
    base = base_url(request)
    enforcement = await policy.enforcement(context(request), target["id"])
    document = {
        "package": presenters.package(packages.PackageView(outcome.package), base),
        "version": outcome.file["version"],
        "file": presenters.file(outcome.file, base, enforcement),
    }
    return json_response(document, 201 if outcome.created else 200)


async def yank_file(request: Request) -> Response:
    access = await file_access(request, Permission.EDIT, "yank")
    payload = validate(await read_json(request), YANK)
    ctx = context(request)
    row = await files.set_yanked(ctx, access.principal, access.row, payload["yanked"], payload.get("reason"))
    return json_response(presenters.file(row, base_url(request), await policy.enforcement(ctx, row["repository_id"])))


async def delete_file(request: Request) -> Response:
    access = await file_access(request, Permission.EDIT, "delete")
    await files.delete_file(context(request), access.principal, access.row)
    return Response(status_code=204)


AUDIT_QUERY = {"resource_type": "string", "q": "string", "limit": "integer", "space": "string", "since": "string",
               "until": "string"}  # fmt: skip


async def read_audit(request: Request) -> Response:
    ctx = context(request)
    caller = await principal(request)
    params = request.query_params
    unknown = [FieldError(name, "unknown query parameter") for name in params if name not in AUDIT_QUERY]
    if unknown:
        raise ValidationFailed("Invalid query.", unknown)
    visible = None if caller.is_admin else await audit.admin_spaces(ctx, caller)
    if visible is not None and not visible:
        raise Forbidden("You lack admin access to any space's audit log.")
    space = params.get("space")
    if space is not None:
        if visible is not None and space not in visible:
            raise NotFound(f"Space {space!r} not found.")
        visible = [space]
    query = audit.Query(
        spaces=visible,
        resource_type=params.get("resource_type"),
        text=params.get("q"),
        since=_timestamp(params, "since"),
        until=_timestamp(params, "until"),
        limit=_limit(params.get("limit", "100")),
    )
    return json_response([presenters.audit_event(row) for row in await audit.search(ctx, query)])


def _limit(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= audit.MAX_LIMIT:
        raise ValidationFailed(
            "Invalid query.", [FieldError("limit", f"must be an integer from 1 to {audit.MAX_LIMIT}")]
        )
    return int(raw)


def _timestamp(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("Invalid query.", [FieldError(name, "must be an ISO 8601 date or time")]) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_SPACE = "/spaces/{slug}"
_REPOS = _SPACE + "/package-repositories"
_SCOPES = _REPOS + "/project-scopes"
_SCOPE = _SCOPES + "/{project_scope_id}"
_REPO = _REPOS + "/{repository_id}"

ENDPOINTS = [
    Endpoint("GET", "/me", me, "The caller, its teams and spaces"),
    Endpoint("POST", "/users", create_user, "Create a user (platform admin)", 201, CREATE_USER, audit=("user", None)),
    Endpoint("GET", "/users", list_users, "List users (platform admin)"),
    Endpoint(
        "POST",
        "/users/{username}/api-keys",
        create_api_key,
        "Create an API key; the key is shown once",
        201,
        CREATE_KEY,
        audit=("api_key", None),
    ),
    Endpoint("GET", "/users/{username}/api-keys", list_api_keys, "List a user's API keys"),
    Endpoint(
        "DELETE",
        "/users/{username}/api-keys/{key_id}",
        revoke_api_key,
        "Revoke an API key",
        204,
        audit=("api_key", "key_id"),
    ),
    Endpoint("POST", "/teams", create_team, "Create a team (platform admin)", 201, NAMED, audit=("team", None)),
    Endpoint("GET", "/teams", list_teams, "List teams"),
    Endpoint(
        "PUT",
        "/teams/{team}/members/{username}",
        put_team_member,
        "Add a team member (platform admin)",
        audit=("team", "team"),
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/members/{username}",
        delete_team_member,
        "Remove a team member",
        204,
        audit=("team", "team"),
    ),
    Endpoint("POST", "/spaces", create_space, "Create a space (platform admin)", 201, NAMED, audit=("space", None)),
    Endpoint("GET", "/spaces", list_spaces, "List the caller's spaces"),
    Endpoint("GET", _SPACE + "/members", list_space_members, "List space members"),
    Endpoint(
        "PUT",
        _SPACE + "/members/{username}",
        put_space_member,
        "Set a member's role (space admin)",
        body=SPACE_ROLE,
        audit=("space_member", "username"),
    ),
    Endpoint(
        "DELETE",
        _SPACE + "/members/{username}",
        delete_space_member,
        "Remove a space member",
        204,
        audit=("space_member", "username"),
    ),
    Endpoint("GET", _SCOPES, list_scopes, "List project scopes"),
    Endpoint("POST", _SCOPES, create_scope, "Create a project scope", 201, CREATE_SCOPE, audit=("project_scope", None)),
    Endpoint(
        "PATCH",
        _SCOPE,
        update_scope,
        "Update a project scope",
        body=UPDATE_SCOPE,
        audit=("project_scope", "project_scope_id"),
    ),
    Endpoint("GET", _SCOPE + "/access", read_scope_access, "Read project-scope access settings"),
    Endpoint(
        "PUT",
        _SCOPE + "/access",
        replace_scope_access,
        "Replace project-scope access settings",
        body=SCOPE_ACCESS,
        audit=("project_scope", "project_scope_id"),
    ),
    Endpoint(
        "POST", _REPOS, create_repository, "Create a repository", 201, CREATE_REPOSITORY, audit=("repository", None)
    ),
    Endpoint("GET", _REPOS, list_repositories, "List repositories", query={"include_archived": "boolean"}),
    Endpoint(
        "PATCH",
        _REPOS + "/files/{file_id}/yank",
        yank_file,
        "Yank or unyank a file",
        body=YANK,
        audit=("file", "file_id"),
    ),
    Endpoint("DELETE", _REPOS + "/files/{file_id}", delete_file, "Delete a file", 204, audit=("file", "file_id")),
    Endpoint("GET", _REPO, read_repository, "Read a repository with its packages"),
    Endpoint(
        "PATCH",
        _REPO,
        update_repository,
        "Update repository metadata or flags",
        body=UPDATE_REPOSITORY,
        audit=("repository", "repository_id"),
    ),
    Endpoint(
        "DELETE",
        _REPO,
        delete_repository,
        "Permanently delete a repository",
        204,
        audit=("repository", "repository_id"),
    ),
    Endpoint(
        "POST", _REPO + "/archive", archive_repository, "Archive a repository", audit=("repository", "repository_id")
    ),
    Endpoint("GET", _REPO + "/packages", list_packages, "List packages"),
    Endpoint("GET", _REPO + "/packages/{package_name}", read_package, "Read a package with its versions and files"),
    Endpoint(
        "POST", _REPO + "/files", upload_file, "Upload a distribution file", 201, multipart="file", audit=("file", None)
    ),
    Endpoint("GET", _REPO + "/retention-rules", read_retention_rules, "Read retention rules"),
    Endpoint(
        "PUT",
        _REPO + "/retention-rules",
        replace_retention_rules,
        "Replace retention rules",
        body=RETENTION_RULES,
        audit=("repository", "repository_id"),
    ),
    Endpoint(
        "POST",
        _REPO + "/retention/runs",
        start_retention_run,
        "Queue a retention run (a dry run unless dry_run is false)",
        202,
        RETENTION_RUN,
        audit=("job", None),
    ),
    Endpoint("GET", _REPO + "/retention/runs/{job_id}", read_retention_run, "Read a retention run's status"),
    Endpoint(
        "GET",
        _REPO + "/pypi/packages/{package_name}",
        preview_upstream_package,
        "Preview an upstream project's versions",
    ),
    Endpoint(
        "GET",
        _REPO + "/pypi/packages/{package_name}/versions/{version}",
        preview_upstream_release,
        "Preview one upstream release's files",
    ),
    Endpoint(
        "POST",
        _REPO + "/imports/pypi/dependencies/preview",
        preview_import_dependencies,
        "Preview the dependency artifacts of an upstream import",
        body=DEPENDENCY_PREVIEW,
    ),
    Endpoint(
        "POST", _REPO + "/imports/pypi", start_import, "Queue an upstream import", 202, IMPORT, audit=("job", None)
    ),
    Endpoint("GET", _REPO + "/imports/pypi/jobs/{job_id}", read_import_job, "Read an import job's status"),
    Endpoint("GET", "/admin/audit", read_audit, "Read the audit log (platform and space admins)", query=AUDIT_QUERY),
]


async def openapi_document(request: Request) -> Response:
    return json_response(_OPENAPI)


ENDPOINTS += scanning.ENDPOINTS
_OPENAPI = openapi(ENDPOINTS, API_PREFIX)
routes = [Route("/openapi.json", openapi_document, methods=["GET"]), *(e.route() for e in ENDPOINTS)]
