"""Loading a space, repository or file for a caller, with the permission check in the same step."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from qarion_pypi.api.http import context, principal
from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.auth.principal import Principal
from qarion_pypi.db import Row
from qarion_pypi.services import files, repositories, spaces


@dataclass(frozen=True)
class SpaceAccess:
    principal: Principal
    space: Row
    permission: Permission


@dataclass(frozen=True)
class RepositoryAccess:
    principal: Principal
    space: Row
    repository: Row
    permission: Permission


@dataclass(frozen=True)
class FileAccess:
    principal: Principal
    space: Row
    file: Row
    permission: Permission


async def space_access(request: Request, needed: Permission, action: str) -> SpaceAccess:
    ctx = context(request)
    caller = await principal(request)
    space = await spaces.get_space(ctx, request.path_params["slug"])
    held = await effective_permission(ctx.db, caller, space["id"])
    require(held, needed, action, "this space")
    return SpaceAccess(caller, space, held)


async def repository_access(request: Request, needed: Permission, action: str) -> RepositoryAccess:
    ctx = context(request)
    access = await space_access(request, Permission.VIEW, "view")
    repository = await repositories.get_repository(ctx, access.space, request.path_params["repository_id"])
    held = await effective_permission(ctx.db, access.principal, access.space["id"], repository)
    require(held, needed, action, "this repository")
    return RepositoryAccess(access.principal, access.space, repository, held)


async def file_access(request: Request, needed: Permission, action: str) -> FileAccess:
    ctx = context(request)
    access = await space_access(request, Permission.VIEW, "view")
    file = await files.get_file(ctx, request.path_params["file_id"], space_id=access.space["id"])
    repository = await repositories.get_repository(ctx, access.space, file["repository_id"])
    held = await effective_permission(ctx.db, access.principal, access.space["id"], repository)
    require(held, needed, action, "this file")
    return FileAccess(access.principal, access.space, file, held)
