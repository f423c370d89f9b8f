"""Promotion of a release from one hosted repository to another (view on the source, publish on
the target)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import api_site, context, json_response
from qarion_pypi.api.payloads import Field, read_payload
from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.errors import FieldError, NotFound, ValidationFailed
from qarion_pypi.repositories import records
from qarion_pypi.scanning import policy
from qarion_pypi.services.catalog import promotions

PROMOTION = {
    "package": Field(str, required=True, non_blank=True, max_length=200),
    "version": Field(str, required=True, non_blank=True, max_length=200),
    "target_repository_id": Field(str, required=True, max_length=36),
    "filenames": Field(list, nullable=True, item_kind=str, description="only these files of the release"),
}


async def promote(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    payload = await read_payload(request, PROMOTION)
    ctx = context(request)
    target = await records.load(ctx.db, payload["target_repository_id"])
    held = await effective_permission(ctx.db, access.principal, target.space_id, target.project_scope_id, target.id)
    if held < Permission.VIEW:
        raise NotFound("Target repository not found.")
    require(held, Permission.PUBLISH, "publish", "target repository")
    filenames = payload.get("filenames")
    if filenames is not None and not 0 < len(filenames) <= promotions.MAX_FILENAMES:
        problem = f"must list 1 to {promotions.MAX_FILENAMES} filenames"
        raise ValidationFailed("Invalid promotion.", [FieldError("filenames", problem)])
    request.state.audit_detail = f"{payload['package']} {payload['version']} to {target.slug}"
    done = await promotions.promote(
        ctx, access.principal, access.row, target, payload["package"], payload["version"], filenames
    )
    enforcement = await policy.enforcement(ctx, target.id)
    site = api_site(request)
    document = {
        "package": done.package,
        "version": done.version,
        "source_repository_id": access.row.id,
        "target_repository_id": target.id,
        "promoted": [presenters.file(f, site, enforcement) for f in done.promoted],
        "already_there": [presenters.file(f, site, enforcement) for f in done.already_there],
    }
    return json_response(document, 201 if done.promoted else 200)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/spaces/{slug}/package-repositories/{repository_id}/promotions",
        promote,
        "Promote a release (or files of it) to another hosted repository",
        201,
        PROMOTION,
        audit=("promotion", None),
    ),
]
