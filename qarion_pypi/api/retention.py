"""Retention rules and runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.access import repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response
from qarion_pypi.api.jobs import job_status, queue_job
from qarion_pypi.api.payloads import NAME, Field, read_payload
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.services.catalog import retention

RETENTION_RULE = {
    "name": NAME,
    "match_version_regex": Field(str, nullable=True, max_length=500, description="only versions this matches"),
    "prereleases_only": Field(bool),
    "max_age_days": Field(int, nullable=True, description="keep releases younger than this"),
    "keep_latest": Field(int, nullable=True, description="keep the newest N matching releases per package"),
}
RETENTION_RULES = {"rules": Field(list, required=True, items=RETENTION_RULE)}
RETENTION_RUN = {"dry_run": Field(bool, description="list what would go and delete nothing (default true)")}


async def read_retention_rules(request: Request) -> Response:
    access = await repository_access(request, Permission.VIEW, "view")
    rows = await retention.get_rules(context(request), access.row)
    return json_response({"rules": [presenters.retention_rule(row) for row in rows]})


async def replace_retention_rules(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    payload = await read_payload(request, RETENTION_RULES)
    rows = await retention.replace_rules(context(request), access.row, payload["rules"])
    return json_response({"rules": [presenters.retention_rule(row) for row in rows]})


async def start_retention_run(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "delete")
    payload = await read_payload(request, RETENTION_RUN)
    params = retention.RunParams(dry_run=payload.get("dry_run", True))
    return await queue_job(request, access, retention.JOB_KIND, params.as_params(), exclusive=True)


async def read_retention_run(request: Request) -> Response:
    return await job_status(request, retention.JOB_KIND)


_REPO = "/spaces/{slug}/package-repositories/{repository_id}"

ENDPOINTS = [
    Endpoint("GET", _REPO + "/retention-rules", read_retention_rules, "Read retention rules"),
    Endpoint("PUT", _REPO + "/retention-rules", replace_retention_rules, "Replace retention rules",
             body=RETENTION_RULES, audit=("repository", "repository_id")),
    Endpoint("POST", _REPO + "/retention/runs", start_retention_run,
             "Queue a retention run (a dry run unless dry_run is false)", 202, RETENTION_RUN, audit=("job", None)),
    Endpoint("GET", _REPO + "/retention/runs/{job_id}", read_retention_run, "Read a retention run's status"),
]  # fmt: skip
