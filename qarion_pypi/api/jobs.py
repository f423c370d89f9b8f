"""Queuing a repository's background job and reading its status, for every kind of job."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import Access, repository_access
from qarion_pypi.api.http import context, json_response
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.repositories.records import RepositoryRecord


async def queue_job(
    request: Request, access: Access[RepositoryRecord], kind: str, params: dict[str, Any], *, exclusive: bool = False
) -> Response:
    """Queue a job of ``kind`` for the repository in the path: 202 with its id (503 without a
    queue; 409 for an ``exclusive`` kind already queued or running there)."""
    job_id = await context(request).jobs.enqueue(
        kind, params, repository_id=access.row.id, created_by_id=access.principal.user_id, exclusive=exclusive
    )
    return job_accepted(request, job_id)


def job_accepted(request: Request, job_id: str, **extra: Any) -> Response:
    request.state.audit_resource_id = job_id
    return json_response({"job_id": job_id, **extra}, 202)


async def job_status(request: Request, kind: str) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    job = await context(request).jobs.get(request.path_params["job_id"], kind=kind, repository_id=access.row.id)
    return json_response(presenters.job(job))
