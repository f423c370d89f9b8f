"""Loading a space, scope, repository or file for a caller, with the permission check in the same step.

Missing and invisible things are both 404 (the message names what was not found); visible things
the caller may not act on are 403 naming the missing access.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from starlette.requests import Request

from qarion_pypi.api.http import context, principal
from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.auth.principal import Principal
from qarion_pypi.db import Row
from qarion_pypi.repositories import records
from qarion_pypi.repositories.records import FileRecord, RepositoryRecord
from qarion_pypi.services.accounts import scopes, spaces
from qarion_pypi.services.catalog import files

T = TypeVar("T")


@dataclass(frozen=True)
class Access(Generic[T]):
    principal: Principal
    space: Row
    permission: Permission
    row: T  # the space, scope, repository or file the path names

    def with_row(self, row: T) -> Access[T]:
        return replace(self, row=row)


@dataclass(frozen=True)
class FileAccess(Access[FileRecord]):
    repository: RepositoryRecord | None = None


async def _caller_and_space(request: Request) -> tuple[Principal, Row]:
    caller = await principal(request)
    return caller, await spaces.get_space(context(request), request.path_params["slug"])


async def space_access(request: Request, needed: Permission, action: str) -> Access[Row]:
    caller, space = await _caller_and_space(request)
    held = await effective_permission(context(request).db, caller, space["id"])
    require(held, needed, action, "space")
    return Access(caller, space, held, space)


async def scope_access(request: Request, needed: Permission, action: str) -> Access[Row]:
    ctx = context(request)
    caller, space = await _caller_and_space(request)
    scope = await scopes.get_scope(ctx, space, scope_id=request.path_params["project_scope_id"])
    request.state.audit_resource_name = scope["slug"]
    held = await effective_permission(ctx.db, caller, space["id"], scope["id"])
    require(held, needed, action, "project scope")
    return Access(caller, space, held, scope)


async def repository_access(request: Request, needed: Permission, action: str) -> Access[RepositoryRecord]:
    ctx = context(request)
    caller, space = await _caller_and_space(request)
    repository = await records.in_space(ctx.db, space["id"], request.path_params["repository_id"])
    request.state.audit_resource_name = repository.slug
    held = await effective_permission(ctx.db, caller, space["id"], repository.project_scope_id, repository.id)
    require(held, needed, action, "repository")
    return Access(caller, space, held, repository)


async def file_access(request: Request, needed: Permission, action: str) -> FileAccess:
    ctx = context(request)
    caller, space = await _caller_and_space(request)
    file, repository = await files.get_file(ctx, request.path_params["file_id"], space_id=space["id"])
    request.state.audit_resource_name = file.filename
    held = await effective_permission(ctx.db, caller, space["id"], repository.project_scope_id, repository.id)
    require(held, needed, action, "file")
    return FileAccess(caller, space, held, file, repository)
