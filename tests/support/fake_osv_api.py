"""A stand-in for the OSV query API (``POST /v1/query``), over a directory of OSV records.

Run as ``python -m tests.support.fake_osv_api PORT RECORDS_DIR``. It answers every record naming the
package, a page at a time (one record per page, to exercise ``next_page_token``), and leaves
version matching to the scanner, which applies it to every record whatever its source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn
from packaging.utils import canonicalize_name
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def build(root: Path) -> Starlette:
    records = [json.loads(p.read_text()) for p in sorted(root.glob("*.json"))]
    asked: list[dict[str, object]] = []

    async def query(request: Request) -> JSONResponse:
        body = await request.json()
        asked.append(body)
        name = canonicalize_name(body["package"]["name"])
        found = [
            r
            for r in records
            if any(
                canonicalize_name(a["package"]["name"]) == name
                and a["package"]["ecosystem"] == body["package"]["ecosystem"]
                for a in r.get("affected", [])
            )
        ]
        page = int(body.get("page_token") or 0)
        document: dict[str, object] = {"vulns": found[page : page + 1]}
        if page + 1 < len(found):
            document["next_page_token"] = str(page + 1)
        return JSONResponse(document)

    async def log(request: Request) -> JSONResponse:
        return JSONResponse(asked)

    return Starlette(routes=[Route("/v1/query", query, methods=["POST"]), Route("/asked", log)])


if __name__ == "__main__":
    uvicorn.run(build(Path(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
