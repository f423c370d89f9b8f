"""Scan policy, scans and their results: the seed's "Vulnerability Scanning" paths."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import file_access, repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response
from qarion_pypi.api.jobs import job_accepted, job_status
from qarion_pypi.api.payloads import Field, read_payload
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.db import Row
from qarion_pypi.osv.severity import LEVELS
from qarion_pypi.scanning import policy, scans
from qarion_pypi.services.catalog import files

SCAN_POLICY = {
    "enabled": Field(bool, description="scan this repository's files (when the platform switch is on too)"),
    "provider": Field(str, enum=policy.PROVIDERS),
    "target_python_version": Field(str, nullable=True, max_length=8, pattern=r"^3\.\d{1,2}$",
                                   description=f"the resolver's Python (default {policy.DEFAULT_PYTHON})"),
    "target_platform": Field(str, nullable=True, max_length=100,
                             description=f"a wheel platform tag (default {policy.DEFAULT_PLATFORM})"),
    "include_public_index": Field(bool, description="let the resolver read the public index"),
    "public_index_url": Field(str, nullable=True, max_length=policy.MAX_URL_LENGTH,
                              description="the public index (default: the configured upstream)"),
    "extra_index_urls": Field(list, item_kind=str, description="more Simple API indexes, read without credentials"),
    "enforcement_mode": Field(str, enum=policy.ENFORCEMENT_MODES),
    "severity_threshold": Field(str, enum=LEVELS),
    "block_pending": Field(bool, description="hide files from clients until their scan completes"),
    "block_failed": Field(bool, description="hide files whose scan failed"),
}  # fmt: skip
FILE_SCAN = {"trigger": Field(str, enum=("manual", "retry"), description="manual (default), or retry a failed scan")}


def _policy_document(request: Request, scan_policy: policy.ScanPolicy) -> dict[str, object]:
    return {**scan_policy.as_dict(), "platform_scanning_enabled": context(request).settings.scanning_enabled}


async def read_scan_policy(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    return json_response(_policy_document(request, await policy.get_policy(context(request), access.row.id)))


async def update_scan_policy(request: Request) -> Response:
    payload = await read_payload(request, SCAN_POLICY)
    access = await repository_access(request, Permission.ADMIN, "admin")
    updated = await policy.update_policy(context(request), access.principal, access.row, payload)
    return json_response(_policy_document(request, updated))


async def queue_repository_scans(request: Request) -> Response:
    await read_payload(request, {})
    access = await repository_access(request, Permission.ADMIN, "scan")
    job_id, count = await scans.queue_repository(context(request), access.principal, access.row)
    return job_accepted(request, job_id, scan_count=count)


async def read_scan_job(request: Request) -> Response:
    return await job_status(request, scans.JOB_KIND)


async def queue_file_scan(request: Request) -> Response:
    ctx = context(request)
    payload = await read_payload(request, FILE_SCAN)
    access = await file_access(request, Permission.ADMIN, "scan")
    scan = await scans.queue_file(ctx, access.principal, access.row, payload.get("trigger", "manual"))
    return await _scan_response(request, access.row.id, scan, 202)


async def read_file_scan(request: Request) -> Response:
    access = await file_access(request, Permission.VIEW, "view")
    return await _scan_response(request, access.row.id, await scans.latest(context(request), access.row), 200)


async def _scan_response(request: Request, file_id: str, scan: Row, status: int) -> Response:
    ctx = context(request)
    file, _ = await files.get_file(ctx, file_id)
    enforcement = await policy.enforcement(ctx, file.repository_id)
    return json_response(presenters.scan(scan, file, enforcement), status)


_REPO = "/spaces/{slug}/package-repositories/{repository_id}"
_FILE = "/spaces/{slug}/package-repositories/files/{file_id}"

ENDPOINTS = [
    Endpoint("GET", _REPO + "/scan-policy", read_scan_policy, "Read the vulnerability scan policy"),
    Endpoint(
        "PATCH",
        _REPO + "/scan-policy",
        update_scan_policy,
        "Update the vulnerability scan policy",
        body=SCAN_POLICY,
        audit=("repository", "repository_id"),
    ),
    Endpoint(
        "POST",
        _REPO + "/scans",
        queue_repository_scans,
        "Queue scans of every repository file not already being scanned",
        202,
        {},
        audit=("job", None),
    ),
    Endpoint("GET", _REPO + "/scans/jobs/{job_id}", read_scan_job, "Read a scan job's status"),
    Endpoint(
        "POST", _FILE + "/scan", queue_file_scan, "Queue a scan of one file", 202, FILE_SCAN, audit=("file", "file_id")
    ),
    Endpoint("GET", _FILE + "/scan", read_file_scan, "Read the latest scan of one file"),
]
