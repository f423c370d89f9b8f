"""Every management endpoint, in matching order, and the OpenAPI document made from them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qarion_pypi.api import (
    audit,
    imports,
    packages,
    platform,
    promotions,
    publishing,
    repositories,
    retention,
    robots,
    scanning,
    scopes,
)
from qarion_pypi.api.endpoints import openapi
from qarion_pypi.api.http import API_PREFIX, json_response

# Scopes before repositories: ``project-scopes`` would otherwise be read as a repository id.
ENDPOINTS = [
    *platform.ENDPOINTS,
    *robots.ENDPOINTS,
    *publishing.ENDPOINTS,
    *scopes.ENDPOINTS,
    *packages.ENDPOINTS,
    *promotions.ENDPOINTS,
    *repositories.ENDPOINTS,
    *retention.ENDPOINTS,
    *imports.ENDPOINTS,
    *scanning.ENDPOINTS,
    *audit.ENDPOINTS,
]
_OPENAPI = openapi(ENDPOINTS, API_PREFIX)


async def openapi_document(request: Request) -> Response:
    return json_response(_OPENAPI)


routes = [Route("/openapi.json", openapi_document, methods=["GET"]), *(e.route() for e in ENDPOINTS)]
