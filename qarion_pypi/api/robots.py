"""A space's robot accounts and their keys (space admins)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import Access, space_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response
from qarion_pypi.api.payloads import NAME, Field, read_payload
from qarion_pypi.api.platform import KEY_LIMITS
from qarion_pypi.auth.permissions import ROLE_PERMISSIONS, Permission
from qarion_pypi.db import Row
from qarion_pypi.services.accounts import keys, robots

CREATE_ROBOT = {
    "name": Field(str, required=True, max_length=61),
    "role": Field(str, required=True, enum=tuple(ROLE_PERMISSIONS)),
}
UPDATE_ROBOT = {"role": Field(str, enum=tuple(ROLE_PERMISSIONS)), "is_active": Field(bool)}
CREATE_KEY = {"name": NAME, **KEY_LIMITS}


async def _robot(request: Request) -> tuple[Access[Row], Row]:
    access = await space_access(request, Permission.ADMIN, "admin")
    name = request.path_params["name"]
    request.state.audit_resource_name = robots.username_of(name)
    return access, await robots.get_robot(context(request), access.space, name)


async def create_robot(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "admin")
    payload = await read_payload(request, CREATE_ROBOT)
    robot, key_row, key = await robots.create_robot(context(request), access.space, payload["name"], payload["role"])
    request.state.audit_resource_id = robot["id"]
    request.state.audit_resource_name = robot["username"]
    return json_response({**presenters.robot(robot), "key": key, "key_id": key_row["id"]}, 201)


async def list_robots(request: Request) -> Response:
    access = await space_access(request, Permission.ADMIN, "admin")
    return json_response([presenters.robot(row) for row in await robots.list_robots(context(request), access.space)])


async def get_robot(request: Request) -> Response:
    _, robot = await _robot(request)
    return json_response(presenters.robot(robot))


async def update_robot(request: Request) -> Response:
    access, robot = await _robot(request)
    payload = await read_payload(request, UPDATE_ROBOT)
    updated = await robots.update_robot(
        context(request), access.space, robot, role=payload.get("role"), active=payload.get("is_active")
    )
    return json_response(presenters.robot(updated))


async def delete_robot(request: Request) -> Response:
    _, robot = await _robot(request)
    await robots.delete_robot(context(request), robot)
    return Response(status_code=204)


async def create_robot_key(request: Request) -> Response:
    ctx = context(request)
    access, robot = await _robot(request)
    payload = await read_payload(request, CREATE_KEY)
    limits = await keys.read_limits(ctx, payload, space_id=access.space["id"])
    row, key = await keys.create_key(ctx, robot, payload["name"], limits)
    return json_response(presenters.api_key(row, key), 201)


async def list_robot_keys(request: Request) -> Response:
    _, robot = await _robot(request)
    return json_response([presenters.api_key(row) for row in await keys.list_keys(context(request), robot)])


async def revoke_robot_key(request: Request) -> Response:
    _, robot = await _robot(request)
    await keys.revoke_key(context(request), robot, request.path_params["key_id"])
    return Response(status_code=204)


_ROBOTS = "/spaces/{slug}/robots"
_ROBOT = _ROBOTS + "/{name}"

ENDPOINTS = [
    Endpoint("POST", _ROBOTS, create_robot, "Create a robot account (sa$<name>); its first key is shown once",
             201, CREATE_ROBOT, audit=("robot", None)),
    Endpoint("GET", _ROBOTS, list_robots, "List the space's robot accounts"),
    Endpoint("GET", _ROBOT, get_robot, "A robot account"),
    Endpoint("PATCH", _ROBOT, update_robot, "Change a robot's role, or deactivate it", body=UPDATE_ROBOT,
             audit=("robot", "name")),
    Endpoint("DELETE", _ROBOT, delete_robot, "Remove a robot account and its keys", 204, audit=("robot", "name")),
    Endpoint("POST", _ROBOT + "/keys", create_robot_key, "Create a key for a robot; shown once", 201, CREATE_KEY,
             audit=("api_key", None)),
    Endpoint("GET", _ROBOT + "/keys", list_robot_keys, "List a robot's keys"),
    Endpoint("DELETE", _ROBOT + "/keys/{key_id}", revoke_robot_key, "Revoke a robot's key", 204,
             audit=("api_key", "key_id")),
]  # fmt: skip
