"""Recording mutations in the audit log, in one place for both surfaces.

A handler wrapped here is logged whatever happens: success with the resource's id (from the path,
from ``request.state.audit_resource_id``, or from the created document's ``id``), or the refusal
with its status and message. Response bodies are read only for that id: never logged, since some
carry secrets (a new API key).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api.http import Handler, context
from qarion_pypi.errors import QarionError
from qarion_pypi.services import audit

log = logging.getLogger(__name__)


def audited(action: str, resource_type: str, id_param: str | None = None) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                response = await handler(request)
            except QarionError as exc:
                await _record(request, action, resource_type, id_param, exc.status, exc.detail, None)
                raise
            await _record(request, action, resource_type, id_param, response.status_code, "", response)
            return response

        return wrapped

    return decorate


async def _record(
    request: Request,
    action: str,
    resource_type: str,
    id_param: str | None,
    status: int,
    message: str,
    response: Response | None,
) -> None:
    resource_id = getattr(request.state, "audit_resource_id", None)
    if resource_id is None and id_param is not None:
        resource_id = request.path_params.get(id_param)
    if resource_id is None and response is not None and response.media_type == "application/json":
        resource_id = _created_id(response.body)
    params = request.path_params
    space = params.get("slug") or params.get("space_slug")
    subject = getattr(request.state, "audit_detail", "")
    detail = " ".join(part for part in (f"{request.method} {request.url.path}", subject, message) if part)
    event = audit.Event(action, resource_type, resource_id, space, status, detail)
    try:
        await audit.record(context(request), getattr(request.state, "principal", None), event)
    except Exception:  # the request's own outcome stands; a lost audit line is logged loudly
        log.exception("could not record audit event %s", event)


def _created_id(body: bytes | memoryview) -> str | None:
    try:
        document = json.loads(bytes(body))
    except ValueError:
        return None
    value = document.get("id") if isinstance(document, dict) else None
    return str(value) if value is not None else None
