"""Imports from the upstream index: previews of its projects and releases, dependency previews, jobs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api.access import repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response
from qarion_pypi.api.jobs import job_accepted, job_status
from qarion_pypi.api.payloads import Field, read_payload
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.services.imports import dependency_preview, importer, upstream_preview
from qarion_pypi.services.imports.params import ImportParams

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


async def preview_upstream_package(request: Request) -> Response:
    await repository_access(request, Permission.ADMIN, "admin")
    return json_response(await upstream_preview.package_preview(context(request), request.path_params["package_name"]))


async def preview_upstream_release(request: Request) -> Response:
    await repository_access(request, Permission.ADMIN, "admin")
    params = request.path_params
    return json_response(
        await upstream_preview.release_preview(context(request), params["package_name"], params["version"])
    )


async def preview_import_dependencies(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    request_params = ImportParams.from_params(await read_payload(request, DEPENDENCY_PREVIEW))
    return json_response(await dependency_preview.preview(context(request), access.row, request_params))


async def start_import(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    request_params = ImportParams.from_params(await read_payload(request, IMPORT))
    return job_accepted(request, await importer.queue(context(request), access.principal, access.row, request_params))


async def read_import_job(request: Request) -> Response:
    return await job_status(request, importer.JOB_KIND)


_REPO = "/spaces/{slug}/package-repositories/{repository_id}"

ENDPOINTS = [
    Endpoint("GET", _REPO + "/pypi/packages/{package_name}", preview_upstream_package,
             "Preview an upstream project's versions"),
    Endpoint("GET", _REPO + "/pypi/packages/{package_name}/versions/{version}", preview_upstream_release,
             "Preview one upstream release's files"),
    Endpoint("POST", _REPO + "/imports/pypi/dependencies/preview", preview_import_dependencies,
             "Preview the dependency artifacts of an upstream import", body=DEPENDENCY_PREVIEW),
    Endpoint("POST", _REPO + "/imports/pypi", start_import, "Queue an upstream import", 202, IMPORT,
             audit=("job", None)),
    Endpoint("GET", _REPO + "/imports/pypi/jobs/{job_id}", read_import_job, "Read an import job's status"),
]  # fmt: skip
