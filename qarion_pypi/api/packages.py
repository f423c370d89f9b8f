"""Packages and files: listing and reading packages, uploading, yanking and deleting files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import file_access, repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import api_site, context, json_response
from qarion_pypi.api.payloads import Field, read_payload
from qarion_pypi.api.uploading import receive_upload
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.scanning import policy
from qarion_pypi.services.catalog import files, packages, uploads
from qarion_pypi.simple.model import PROJECT_STATUSES

STATUS = {
    "status": Field(str, required=True, enum=PROJECT_STATUSES, description="PEP 792 project status"),
    "reason": Field(str, nullable=True, max_length=1000),
}
YANK = {"yanked": Field(bool, required=True), "reason": Field(str, nullable=True, max_length=files.MAX_YANK_REASON)}


async def list_packages(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    ctx = context(request)
    views = await packages.list_packages(ctx, access.row)
    enforcement = await policy.enforcement(ctx, access.row.id)
    return json_response([presenters.package(view, api_site(request), enforcement) for view in views])


async def read_package(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    ctx = context(request)
    view = await packages.get_package(ctx, access.row, request.path_params["package_name"])
    return json_response(presenters.package(view, api_site(request), await policy.enforcement(ctx, access.row.id)))


async def set_package_status(request: Request) -> Response:
    access = await repository_access(request, Permission.EDIT, "edit")
    payload = await read_payload(request, STATUS)
    request.state.audit_detail = f"status={payload['status']}" + (
        f" reason={payload['reason']!r}" if payload.get("reason") else ""
    )
    ctx = context(request)
    view = await packages.set_status(
        ctx, access.principal, access.row, request.path_params["package_name"], payload["status"], payload.get("reason")
    )
    return json_response(presenters.package(view, api_site(request), await policy.enforcement(ctx, access.row.id)))


async def upload_file(request: Request) -> Response:
    """The response shows the package as it is after the upload, with every file."""
    ctx = context(request)
    access = await repository_access(request, Permission.PUBLISH, "publish")
    target = await uploads.target(ctx, access.principal, access.row)
    outcome = await receive_upload(request, access.principal, target, file_field="file", legacy=False)
    enforcement = await policy.enforcement(ctx, target.id)
    view = await packages.view_of(ctx, outcome.package)
    file = next((f for f in view.files if f.id == outcome.file.id), outcome.file)
    document = {
        "package": presenters.package(view, api_site(request), enforcement),
        "version": outcome.file.version,
        "file": presenters.file(file, api_site(request), enforcement),
    }
    return json_response(document, 201 if outcome.created else 200)


async def yank_file(request: Request) -> Response:
    access = await file_access(request, Permission.EDIT, "yank")
    payload = await read_payload(request, YANK)
    ctx = context(request)
    row = await files.set_yanked(ctx, access.principal, access.row, payload["yanked"], payload.get("reason"))
    return json_response(presenters.file(row, api_site(request), await policy.enforcement(ctx, row.repository_id)))


async def delete_file(request: Request) -> Response:
    access = await file_access(request, Permission.EDIT, "delete")
    await files.delete_file(context(request), access.principal, access.row)
    return Response(status_code=204)


_REPOS = "/spaces/{slug}/package-repositories"
_REPO = _REPOS + "/{repository_id}"

ENDPOINTS = [
    Endpoint("PATCH", _REPOS + "/files/{file_id}/yank", yank_file, "Yank or unyank a file", body=YANK,
             audit=("file", "file_id")),
    Endpoint("DELETE", _REPOS + "/files/{file_id}", delete_file, "Delete a file", 204, audit=("file", "file_id")),
    Endpoint("GET", _REPO + "/packages", list_packages, "List packages with their versions and files"),
    Endpoint("GET", _REPO + "/packages/{package_name}", read_package, "Read a package with its versions and files"),
    Endpoint("PUT", _REPO + "/packages/{package_name}/status", set_package_status, "Set a package's PEP 792 status",
             body=STATUS, audit=("package", "package_name")),
    Endpoint("POST", _REPO + "/files", upload_file, "Upload a distribution file", 201, multipart="file",
             audit=("file", None)),
]  # fmt: skip
