"""Trusted publishers of a repository (its admins), and the exchange of a CI job's OIDC token
for a short-lived upload token (anyone holding such a token)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qarion_pypi.api.access import repository_access
from qarion_pypi.api.endpoints import Endpoint
from qarion_pypi.api.http import context, json_response
from qarion_pypi.api.payloads import Field, read_payload
from qarion_pypi.auth.permissions import Permission
from qarion_pypi.db import Row
from qarion_pypi.oidc.tokens import MAX_TOKEN_LENGTH
from qarion_pypi.services.publishing import minting, publishers

CREATE_PUBLISHER = {
    "kind": Field(str, required=True, enum=tuple(publishers.KINDS)),
    "issuer": Field(str, required=True, max_length=500),
    "claims": Field(dict, required=True, description="github: repository, workflow[, environment]; "
                    "gitlab: project_path, ci_config_path[, environment]; oidc: any claims, matched exactly"),
}  # fmt: skip
MINT_TOKEN = {"token": Field(str, required=True, max_length=MAX_TOKEN_LENGTH, description="the CI job's OIDC token")}


def _publisher(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "issuer": row["issuer"], "claims": row["claims"],
            "repository_id": row["repository_id"], "created_at": row["created_at"].isoformat()}  # fmt: skip


async def create_publisher(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    payload = await read_payload(request, CREATE_PUBLISHER)
    row = await publishers.add(context(request), access.principal, access.row, payload["kind"], payload["issuer"],
                               payload["claims"])  # fmt: skip
    request.state.audit_resource_id = row["id"]
    return json_response(_publisher(row), 201)


async def list_publishers(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    return json_response([_publisher(row) for row in await publishers.list_for(context(request), access.row)])


async def delete_publisher(request: Request) -> Response:
    access = await repository_access(request, Permission.ADMIN, "admin")
    await publishers.remove(context(request), access.row, request.path_params["publisher_id"])
    return Response(status_code=204)


async def mint_token(request: Request) -> Response:
    payload = await read_payload(request, MINT_TOKEN, limit=MAX_TOKEN_LENGTH + 1024, anonymous=True)
    minted = await minting.mint(context(request), payload["token"])
    request.state.audit_resource_name = minted.identity.get("repository") or minted.identity.get("project_path")
    request.state.audit_detail = "matched " + json.dumps(minted.identity, sort_keys=True)
    return json_response({"token": minted.token, "expires_at": minted.expires_at.isoformat(),
                          "repository_ids": minted.repository_ids})  # fmt: skip


_PUBLISHERS = "/spaces/{slug}/package-repositories/{repository_id}/trusted-publishers"

ENDPOINTS = [
    Endpoint("POST", _PUBLISHERS, create_publisher, "Trust a CI identity to upload here", 201, CREATE_PUBLISHER,
             audit=("trusted_publisher", None)),
    Endpoint("GET", _PUBLISHERS, list_publishers, "The repository's trusted publishers"),
    Endpoint("DELETE", _PUBLISHERS + "/{publisher_id}", delete_publisher, "Stop trusting a publisher", 204,
             audit=("trusted_publisher", "publisher_id")),
    Endpoint("POST", "/oidc/mint-token", mint_token, "Exchange a CI job's OIDC token for a 15-minute upload token",
             body=MINT_TOKEN, audit=("publish_token", None)),
]  # fmt: skip
