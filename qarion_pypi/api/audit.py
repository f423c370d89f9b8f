"""Reading the audit log (platform admins: everything; space admins: their spaces)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api import presenters
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response, principal
from qarion_pypi.auth.principal import Principal
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.services import audit

AUDIT_QUERY = {"resource_type": "string", "q": "string", "limit": "integer", "space": "string", "since": "string",
               "until": "string"}  # fmt: skip


async def read_audit(request: Request) -> Response:
    query = await audit_query(request, await principal(request))
    return json_response([presenters.audit_event(row) for row in await audit.search(context(request), query)])


async def audit_query(request: Request, caller: Principal) -> audit.Query:
    """The query string's filters, checked: what the caller may read, narrowed by them."""
    ctx = context(request)
    params = request.query_params
    unknown = [FieldError(name, "unknown query parameter") for name in params if name not in AUDIT_QUERY]
    if unknown:
        raise ValidationFailed("Invalid query.", unknown)
    return audit.Query(
        spaces=await audit.readable_spaces(ctx, caller, params.get("space") or None),
        resource_type=params.get("resource_type") or None,
        text=params.get("q") or None,
        since=_timestamp(params, "since"),
        until=_timestamp(params, "until"),
        limit=_limit(params.get("limit") or "100"),
    )


def _limit(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= audit.MAX_LIMIT:
        raise ValidationFailed(
            "Invalid query.", [FieldError("limit", f"must be an integer from 1 to {audit.MAX_LIMIT}")]
        )
    return int(raw)


def _timestamp(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:  # an empty field of a filter form is no filter
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("Invalid query.", [FieldError(name, "must be an ISO 8601 date or time")]) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


ENDPOINTS = [
    Endpoint("GET", "/admin/audit", read_audit, "Read the audit log (platform and space admins)", query=AUDIT_QUERY),
]
