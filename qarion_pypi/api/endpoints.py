"""Management endpoints declared once: the route table and the OpenAPI document come from here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from qarion_pypi import __version__
from qarion_pypi.api.auditing import audited
from qarion_pypi.api.http import Handler
from qarion_pypi.api.payloads import Spec, object_schema

_ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
    "required": ["detail", "errors"],
}
_ERRORS = {
    "401": "Missing or invalid credentials",
    "403": "The caller lacks the named access (create, publish, edit, admin, delete, yank)",
    "404": "Not found, or not visible to the caller",
    "409": "Conflicts with existing state (a slug in use, an archived repository)",
    "422": "Invalid payload; errors name each field",
}

_ERROR_RESPONSES = {
    code: {"description": text, "content": {"application/json": {"schema": _ERROR}}} for code, text in _ERRORS.items()
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    status: int = 200
    body: Spec | None = None
    multipart: str | None = None  # the form field a file is uploaded in
    query: Mapping[str, str] = field(default_factory=dict)  # name -> JSON Schema type
    # What the audit log calls the resource, and the path parameter naming it (mutations only).
    audit: tuple[str, str | None] | None = None

    def route(self) -> Route:
        handler = self.handler
        if self.audit is not None:
            resource_type, id_param = self.audit
            handler = audited(self.handler.__name__, resource_type, id_param)(handler)
        return Route(self.path, handler, methods=[self.method])

    def operation(self) -> dict[str, Any]:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", self.path)
        ]
        parameters += [{"name": name, "in": "query", "schema": {"type": kind}} for name, kind in self.query.items()]
        success: dict[str, Any] = {"description": "Success"}
        if self.status != 204:
            success["content"] = {"application/json": {"schema": {}}}
        operation: dict[str, Any] = {
            "summary": self.summary,
            "operationId": self.handler.__name__,
            "parameters": parameters,
            "responses": {str(self.status): success, **_ERROR_RESPONSES},
        }
        if self.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": object_schema(self.body)}},
            }
        if self.multipart is not None:
            schema = {
                "type": "object",
                "properties": {self.multipart: {"type": "string", "format": "binary"}},
                "required": [self.multipart],
            }
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
        return operation


def openapi(endpoints: Sequence[Endpoint], prefix: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(prefix + endpoint.path, {})[endpoint.method.lower()] = endpoint.operation()
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qarion PyPI management API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic", "description": "username __token__, password an API key"},
            }
        },
        "security": [{"bearer": []}, {"basic": []}],
    }
