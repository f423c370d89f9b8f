"""Both upload doors (twine's legacy API, the management API) come through here."""

from __future__ import annotations

from starlette.requests import Request

from qarion_pypi.api.auditing import record_success
from qarion_pypi.api.http import context
from qarion_pypi.api.multipart import read_upload_form
from qarion_pypi.auth.principal import Principal
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.services.catalog import uploads


async def receive_upload(
    request: Request, principal: Principal, repository: RepositoryRecord, *, file_field: str, legacy: bool
) -> uploads.UploadOutcome:
    """Read the form (the file streams into a staging blob) and hand it to the upload service; a
    new file's audit row commits with it (201 on the management door, 200 on twine's)."""
    ctx = context(request)
    form = await read_upload_form(request, file_field, ctx.blobs.incoming, ctx.settings.max_upload_bytes)
    try:
        upload = uploads.Upload(
            form=form.first_values(),
            filename=form.filename,
            blob=form.blob,
            legacy=legacy,
            content_type=form.content_type,
            on_recorded=lambda file_id: record_success(request, 200 if legacy else 201, file_id),
        )
        outcome = await uploads.accept(ctx, principal, repository, upload)
    finally:
        form.discard()
    request.state.audit_resource_id = outcome.file.id
    return outcome
