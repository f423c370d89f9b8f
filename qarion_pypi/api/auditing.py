"""Recording mutations in the audit log, in one place for both surfaces.

A handler wrapped here is logged whatever happens: success with the resource's id (from the path,
from ``request.state.audit_resource_id``, or from the created document's ``id``), or the refusal
with its status and message. The resource's name (what ``q`` finds it by) comes from
``request.state.audit_resource_name``, the response document's slug, username or filename, or the
path. Response bodies are read only for these: never logged, since some carry secrets (a new key).

A handler whose work commits in one transaction can record its success inside it
(``record_success``), so the row commits with what it records or not at all; the wrapper then adds
no second row for that success (a refusal or an error after it is still recorded).
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
            request.state.audit_as = (action, resource_type, id_param)
            try:
                response = await handler(request)
            except QarionError as exc:
                await _record(request, action, resource_type, id_param, exc.status, exc.detail, None)
                raise
            except Exception as exc:  # a server error is an outcome too: recorded, then raised
                detail = f"internal error ({exc.__class__.__name__})"
                await _record(request, action, resource_type, id_param, 500, detail, None)
                raise
            if not getattr(request.state, "audited", False):
                await _record(request, action, resource_type, id_param, response.status_code, "", response)
            return response

        return wrapped

    return decorate


async def record_success(request: Request, status: int, resource_id: str) -> None:
    """The audited request's success, recorded now: inside the caller's transaction, whose work
    it records (a savepoint: a failed audit insert does not undo that work). Nothing for a
    request that is not audited."""
    audit_as = getattr(request.state, "audit_as", None)
    if audit_as is None:
        return
    action, resource_type, id_param = audit_as
    request.state.audit_resource_id = resource_id
    await _record(request, action, resource_type, id_param, status, "", None)
    request.state.audited = True


async def _record(
    request: Request,
    action: str,
    resource_type: str,
    id_param: str | None,
    status: int,
    message: str,
    response: Response | None,
) -> None:
    params = request.path_params
    document = _document(response)
    resource_id = getattr(request.state, "audit_resource_id", None)
    if resource_id is None and id_param is not None:
        resource_id = params.get(id_param)
    if resource_id is None and document.get("id") is not None:
        resource_id = str(document["id"])
    space = params.get("slug") or params.get("space_slug")
    subject = getattr(request.state, "audit_detail", "")
    detail = " ".join(part for part in (f"{request.method} {request.url.path}", subject, message) if part)
    event = audit.Event(action, resource_type, resource_id, space, status, detail, _name(request, document))
    try:
        await audit.record(context(request), getattr(request.state, "principal", None), event)
    except Exception:  # the request's own outcome stands; a lost audit line is logged loudly
        log.exception("could not record audit event %s", event)


_NAME_KEYS = ("filename", "slug", "username")
_NAME_PARAMS = ("username", "team", "package_name", "repository_slug")


def _name(request: Request, document: dict[str, object]) -> str:
    """Set by the handler or the access check, else the document's, else the path's."""
    candidates = [getattr(request.state, "audit_resource_name", None)]
    candidates += [document.get(key) for key in _NAME_KEYS]
    candidates += [request.path_params.get(param) for param in _NAME_PARAMS]
    candidates.append(document.get("name"))
    return next((str(value) for value in candidates if isinstance(value, str) and value), "")


def _document(response: Response | None) -> dict[str, object]:
    """The JSON object a handler answered with, or an empty one."""
    if response is None or response.media_type != "application/json":
        return {}
    try:
        document = json.loads(bytes(response.body))
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
