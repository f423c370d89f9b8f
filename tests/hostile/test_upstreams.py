"""A proxy in front of an upstream that means harm: markup in hashes, files on other hosts (where
the proxy's credentials must not go), pages too large to hold, and redirects inside the network."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from html import escape
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support import distbuilder as d
from tests.support.appserver import app_server, rss_bytes
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow  # real servers, killed and restarted: a scenario, not a unit

JSON_V1 = "application/vnd.pypi.simple.v1+json"
WHEEL = d.wheel("foreign", "1.0")
WHEEL_SHA = hashlib.sha256(WHEEL).hexdigest()
SCRIPT = '"><script>alert(1)</script>'


class Seen:
    def __init__(self) -> None:
        self.authorization: dict[str, list[str | None]] = {}

    def note(self, where: str, request: Request) -> None:
        self.authorization.setdefault(where, []).append(request.headers.get("authorization"))


def _foreign_files(seen: Seen) -> Starlette:
    async def wheel(request: Request) -> Response:
        seen.note("foreign", request)
        return Response(WHEEL, media_type="application/octet-stream")

    async def internal_page(request: Request) -> Response:  # what a redirect into the network would reach
        seen.note("internal", request)
        return JSONResponse({"meta": {"api-version": "1.1"}, "name": "redirect", "files": []}, media_type=JSON_V1)

    return Starlette(
        routes=[Route("/files/foreign-1.0-py3-none-any.whl", wheel), Route("/simple/{name}/", internal_page)]
    )


def _upstream(seen: Seen, foreign: str, internal: str) -> Starlette:
    async def project(request: Request) -> Response:
        seen.note("upstream", request)
        name = request.path_params["name"]
        if name == "inject":  # attribute values that decode to markup
            bad, script = escape("a" * 63 + SCRIPT), escape(SCRIPT)
            html = (
                f'<a href="/files/inject-1.0-py3-none-any.whl#sha256={bad}">inject-1.0-py3-none-any.whl</a>'
                f'<a href="/files/inject-2.0-py3-none-any.whl#sha256={"b" * 64}" data-core-metadata="sha256={script}" '
                f'data-requires-python="{script}">inject-2.0-py3-none-any.whl</a>'
            )
            return HTMLResponse(html)
        if name == "foreign":
            url = f"{foreign}/files/foreign-1.0-py3-none-any.whl"
            files = [
                {"filename": url.rsplit("/", 1)[1], "url": url, "hashes": {"sha256": WHEEL_SHA}, "size": len(WHEEL)}
            ]
            return JSONResponse({"meta": {"api-version": "1.1"}, "name": name, "files": files}, media_type=JSON_V1)
        if name == "huge":
            return StreamingResponse(_endless_json(), media_type=JSON_V1)
        if name == "redirect":
            return RedirectResponse(f"{internal}/simple/redirect/", status_code=302)
        return Response(status_code=404)

    return Starlette(routes=[Route("/simple/{name}/", project)])


async def _endless_json() -> AsyncIterator[bytes]:
    yield b'{"files": ['
    entry = json.dumps({"filename": "x-1.0.tar.gz", "url": "x", "hashes": {"sha256": "0" * 64}}).encode() + b","
    block = entry * (1024 * 1024 // len(entry))
    for _ in range(300):
        yield block
    yield b"{}]}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    seen = Seen()
    with app_server(_foreign_files(seen)) as foreign:
        internal = foreign.replace("127.0.0.1", "localhost")  # a name: not the configured upstream's host
        with app_server(_upstream(seen, foreign, internal)) as upstream:
            data = tmp_path_factory.mktemp("proxying") / "data"
            # The upstream's host is the configured one (so it may be on loopback); nothing else is.
            with live_server(data, upstream_index_url=f"{upstream}/simple/") as server:
                repo = make_repo(server)
                with repo.client() as api:
                    proxy = api.post(
                        f"/spaces/{repo.space}/package-repositories",
                        json={"name": "Hostile", "slug": "hostile", "kind": "proxy",
                              "remote_url": f"{upstream}/simple/", "upstream_username": "robot",
                              "upstream_password": "upstream-secret"},
                    ).json()  # fmt: skip
                yield {"seen": seen, "server": server, "repo": repo, "proxy": proxy}


def _page(world: dict[str, Any], name: str, json_page: bool = False) -> httpx.Response:
    repo: Repo = world["repo"]
    index = world["proxy"]["simple_index_url"].removeprefix(repo.server.url)
    with repo.raw("viewer") as http:
        return http.get(f"{index}{name}/", headers={"Accept": JSON_V1} if json_page else {})


def test_markup_from_an_upstream_never_reaches_a_page(world: dict[str, Any]) -> None:
    html = _page(world, "inject")
    assert html.status_code == 200
    assert "<script>" not in html.text
    assert "inject-1.0" not in html.text  # its "hash" was no hash: not offered at all
    assert 'data-requires-python="' not in html.text  # not a version specifier: dropped
    (entry,) = _page(world, "inject", json_page=True).json()["files"]
    assert entry["filename"] == "inject-2.0-py3-none-any.whl" and entry["hashes"]["sha256"] == "b" * 64
    assert entry["requires-python"] is None


def test_credentials_go_only_to_the_upstream_s_own_origin(world: dict[str, Any]) -> None:
    (entry,) = _page(world, "foreign", json_page=True).json()["files"]
    repo: Repo = world["repo"]
    with repo.raw("viewer") as http:
        downloaded = http.get(entry["url"])
    assert downloaded.status_code == 200 and downloaded.content == WHEEL
    seen: Seen = world["seen"]
    assert all(header and header.startswith("Basic ") for header in seen.authorization["upstream"])
    assert seen.authorization["foreign"] == [None]


def test_a_page_too_large_to_hold_is_not_held(world: dict[str, Any]) -> None:
    server: LiveServer = world["server"]
    assert server.process is not None
    before = rss_bytes(server.process.pid)
    assert _page(world, "huge").status_code == 404  # never seen, and the upstream's answer is refused
    assert rss_bytes(server.process.pid) - before < 64 * 1024 * 1024


def test_a_redirect_into_the_network_is_not_followed(world: dict[str, Any]) -> None:
    assert _page(world, "redirect").status_code == 404
    assert "internal" not in world["seen"].authorization  # nothing reached the redirect's target
