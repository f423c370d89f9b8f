"""The platform API (DESIGN.md): the caller, users and their API keys, teams, spaces and members."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import space_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response, principal
from qarion_pypi.api.payloads import NAME, SLUG, Field, read_payload
from qarion_pypi.auth.permissions import ROLE_PERMISSIONS, Permission, effective_permission
from qarion_pypi.errors import Forbidden
from qarion_pypi.services.accounts import keys, spaces, teams, users
from qarion_pypi.services.accounts.naming import USERNAME_PATTERN

NAMED = {"name": NAME, "slug": SLUG}
CREATE_USER = {"username": Field(str, required=True, max_length=64, pattern=USERNAME_PATTERN), "is_admin": Field(bool)}
KEY_LIMITS = {
    "expires_at": Field(str, nullable=True, description="ISO 8601 with a time zone; the key fails from then on"),
    "scopes": Field(list, item_kind=str, nullable=True, description="read and/or publish; none: all the owner may"),
    "repository_ids": Field(list, item_kind=str, nullable=True, description="the only repositories the key reaches"),
}
CREATE_KEY = {"name": NAME, **KEY_LIMITS}
UPDATE_USER = {"is_active": Field(bool, required=True)}
SPACE_ROLE = {"role": Field(str, required=True, enum=tuple(ROLE_PERMISSIONS))}


async def _platform_admin(request: Request) -> None:
    if not (await principal(request)).is_admin:
        raise Forbidden("You lack admin access to the platform.")


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
    payload = await read_payload(request, CREATE_USER)
    row = await users.create_user(context(request), payload["username"], is_admin=payload.get("is_admin", False))
    return json_response(presenters.user(row), 201)


async def list_users(request: Request) -> Response:
    await _platform_admin(request)
    return json_response([presenters.user(row) for row in await users.list_users(context(request))])


async def update_user(request: Request) -> Response:
    await _platform_admin(request)
    ctx = context(request)
    payload = await read_payload(request, UPDATE_USER)
    user = await users.require_user(ctx, request.path_params["username"])
    updated = await users.set_active(ctx, await principal(request), user, payload["is_active"])
    return json_response(presenters.user(updated))


async def create_api_key(request: Request) -> Response:
    ctx = context(request)
    owner = await users.key_owner(ctx, await principal(request), request.path_params["username"])
    payload = await read_payload(request, CREATE_KEY)
    row, key = await keys.create_key(ctx, owner, payload["name"], await keys.read_limits(ctx, payload))
    return json_response(presenters.api_key(row, key), 201)


async def list_api_keys(request: Request) -> Response:
    owner = await users.key_owner(context(request), await principal(request), request.path_params["username"])
    return json_response([presenters.api_key(row) for row in await keys.list_keys(context(request), owner)])


async def revoke_api_key(request: Request) -> Response:
    owner = await users.key_owner(context(request), await principal(request), request.path_params["username"])
    await keys.revoke_key(context(request), owner, request.path_params["key_id"])
    return Response(status_code=204)


async def create_team(request: Request) -> Response:
    await _platform_admin(request)
    payload = await read_payload(request, NAMED)
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
    payload = await read_payload(request, NAMED)
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
    payload = await read_payload(request, SPACE_ROLE)
    member = await spaces.set_member(context(request), access.space, request.path_params["username"], payload["role"])
    return json_response(member)


async def delete_space_member(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "admin")
    await spaces.remove_member(context(request), access.space, request.path_params["username"])
    return Response(status_code=204)


_SPACE = "/spaces/{slug}"
_KEYS = "/users/{username}/api-keys"

ENDPOINTS = [
    Endpoint("GET", "/me", me, "The caller, its teams and spaces"),
    Endpoint("POST", "/users", create_user, "Create a user (platform admin)", 201, CREATE_USER,
             audit=("user", None)),
    Endpoint("GET", "/users", list_users, "List users (platform admin)"),
    Endpoint("PATCH", "/users/{username}", update_user, "Deactivate or reactivate a user (platform admin)",
             body=UPDATE_USER, audit=("user", "username")),
    Endpoint("POST", _KEYS, create_api_key, "Create an API key; the key is shown once", 201, CREATE_KEY,
             audit=("api_key", None)),
    Endpoint("GET", _KEYS, list_api_keys, "List a user's API keys"),
    Endpoint("DELETE", _KEYS + "/{key_id}", revoke_api_key, "Revoke an API key", 204,
             audit=("api_key", "key_id")),
    Endpoint("POST", "/teams", create_team, "Create a team (platform admin)", 201, NAMED, audit=("team", None)),
    Endpoint("GET", "/teams", list_teams, "List teams"),
    Endpoint("PUT", "/teams/{team}/members/{username}", put_team_member, "Add a team member (platform admin)",
             audit=("team", "team")),
    Endpoint("DELETE", "/teams/{team}/members/{username}", delete_team_member, "Remove a team member", 204,
             audit=("team", "team")),
    Endpoint("POST", "/spaces", create_space, "Create a space (platform admin)", 201, NAMED,
             audit=("space", None)),
    Endpoint("GET", "/spaces", list_spaces, "List the caller's spaces"),
    Endpoint("GET", _SPACE + "/members", list_space_members, "List space members"),
    Endpoint("PUT", _SPACE + "/members/{username}", put_space_member, "Set a member's role (space admin)",
             body=SPACE_ROLE, audit=("space_member", "username")),
    Endpoint("DELETE", _SPACE + "/members/{username}", delete_space_member, "Remove a space member", 204,
             audit=("space_member", "username")),
]  # fmt: skip
