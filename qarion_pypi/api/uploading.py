"""Both upload doors (twine's legacy API, the management API) come through here."""

from __future__ import annotations

from starlette.requests import Request

from qarion_pypi.api.http import context
from qarion_pypi.api.multipart import read_upload_form
from qarion_pypi.auth.permissions import Permission, effective_permission, require
from qarion_pypi.auth.principal import Principal
from qarion_pypi.db import Row
from qarion_pypi.services import repositories, uploads


async def upload_target(request: Request, caller: Principal, repository: Row) -> Row:
    """Where an upload to ``repository`` lands: itself, or a virtual repository's hosted target,
    on which the caller needs publish access too. Proxies refuse uploads."""
    ctx = context(request)
    target = await repositories.upload_target(ctx, repository)
    if target["id"] != repository["id"]:
        held = await effective_permission(ctx.db, caller, target["space_id"], target["project_scope_id"])
        require(held, Permission.PUBLISH, "publish", "repository")
    return target


async def receive_upload(
    request: Request, principal: Principal, repository: Row, *, file_field: str, legacy: bool
) -> uploads.UploadOutcome:
    ctx = context(request)
    form = await read_upload_form(request, file_field, ctx.blobs.incoming, ctx.settings.max_upload_bytes)
    assert form.blob is not None
    request.state.audit_detail = form.filename
    try:
        upload = uploads.Upload(form=form.first_values(), filename=form.filename, blob=form.blob, legacy=legacy)
        outcome = await uploads.accept(ctx, principal, repository, upload)
    finally:
        form.discard()
    request.state.audit_resource_id = outcome.file["id"]
    return outcome
