"""A proxy's first fetch of a file, through a real server and a real upstream: the client gets the
upstream's bytes as they arrive, the file is kept only after the client has its whole answer and
only if it matched, and a request straight after finds it cached. Core metadata is kept the same
way, with its resolver fields. Pages list each upstream file once, whatever the upstream repeats,
and a file stays with the project that listed it first."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import distbuilder as d
from tests.support.appserver import app_server
from tests.support.harness import LiveServer, Repo, live_server, make_repo

JSON_V1 = "application/vnd.pypi.simple.v1+json"
META = d.metadata("kept", "1.0", extra="Requires-Dist: helper>=2\n")
KEPT = d.wheel("kept", "1.0", meta=META)
BIG = d.wheel("big", "1.0", salt="x" * (3 * 1024 * 1024))  # several chunks on their way through
LIAR = d.wheel("liar", "1.0")  # its page promises other bytes


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _upstream(asked: Counter[str]) -> Starlette:
    files = {"kept-1.0-py3-none-any.whl": KEPT, "big-1.0-py3-none-any.whl": BIG, "liar-1.0-py3-none-any.whl": LIAR}
    promised = {name: _sha(data) for name, data in files.items()} | {"liar-1.0-py3-none-any.whl": _sha(b"other")}

    async def page(request: Request) -> Response:
        name = request.path_params["name"]
        listed = [f for f in files if f.startswith(name + "-")]
        if name == "thief":  # claims another project's file
            listed = ["kept-1.0-py3-none-any.whl"]
        if not listed:
            return Response(status_code=404)
        metadata = {"sha256": _sha(META)} if listed[0].startswith("kept") else False
        entries = [{"filename": f, "url": f"/files/{f}", "hashes": {"sha256": promised[f]}, "core-metadata": metadata}
                   for f in listed]  # fmt: skip
        entries.append(dict(entries[0], url="/files/elsewhere"))  # the same file listed twice
        return JSONResponse({"meta": {"api-version": "1.1"}, "name": name, "files": entries}, media_type=JSON_V1)

    async def file(request: Request) -> Response:
        filename = request.path_params["filename"]
        asked[filename] += 1
        if filename == "kept-1.0-py3-none-any.whl.metadata":
            return Response(META)
        return Response(files[filename], media_type="application/octet-stream")

    return Starlette(routes=[Route("/simple/{name}/", page), Route("/files/{filename}", file)])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    asked: Counter[str] = Counter()
    with app_server(_upstream(asked)) as upstream:
        data = tmp_path_factory.mktemp("proxy") / "data"
        with live_server(data, upstream_index_url=f"{upstream}/simple/") as server:
            repo = make_repo(server)
            with repo.client() as api:
                proxy = api.post(f"/spaces/{repo.space}/package-repositories", json={
                    "name": "Mirror", "kind": "proxy", "remote_url": f"{upstream}/simple/", "cache_ttl": 3600,
                }).json()  # fmt: skip
            yield {"asked": asked, "server": server, "repo": repo, "index": proxy["simple_index_url"]}


def _entry(world: dict[str, Any], http: httpx.Client, name: str) -> dict[str, Any]:
    page = http.get(f"{world['index']}{name}/", headers={"Accept": JSON_V1})
    assert page.status_code == 200, page.text
    files = page.json()["files"]
    assert len(files) == 1  # listed twice upstream, once here
    return dict(files[0], url=str(httpx.URL(f"{world['index']}{name}/").join(files[0]["url"])))


def _cached(server: LiveServer, filename: str) -> list[tuple[Any, ...]]:
    return server.state.rows("SELECT blob_sha256 FROM proxy_files WHERE filename = ?", filename)


def _staging_empty(server: LiveServer) -> bool:
    staging = server.state.staging
    return not staging.exists() or not any(p.name.startswith("incoming-") for p in staging.iterdir())


@pytest.mark.parametrize("name, data", [("kept", KEPT), ("big", BIG)])
def test_a_file_is_kept_once_its_first_client_has_it_and_the_next_request_finds_it(
    world: dict[str, Any], name: str, data: bytes
) -> None:
    repo: Repo = world["repo"]
    filename = f"{name}-1.0-py3-none-any.whl"
    with repo.raw("viewer") as http:
        entry = _entry(world, http, name)
        first = http.get(entry["url"])
        second = http.get(entry["url"])  # at once: it waits for the keep rather than fetching again
    assert first.status_code == 200 and first.content == data
    assert second.status_code == 200 and second.content == data
    assert world["asked"][filename] == 1
    assert _cached(world["server"], filename) == [(_sha(data),)]
    assert _staging_empty(world["server"])


def test_a_file_that_does_not_match_its_hash_is_never_whole_and_never_kept(world: dict[str, Any]) -> None:
    repo: Repo = world["repo"]
    with repo.raw("viewer") as http:
        entry = _entry(world, http, "liar")
        for _attempt in (1, 2):
            try:
                answer = http.get(entry["url"])
            except httpx.HTTPError:  # the stream broke off before its last chunk
                continue
            assert answer.content != LIAR  # never the whole file
    assert world["asked"]["liar-1.0-py3-none-any.whl"] == 2  # not cached: asked again
    assert _cached(world["server"], "liar-1.0-py3-none-any.whl") == [(None,)]
    assert _staging_empty(world["server"])


def test_metadata_is_served_then_kept_with_its_resolver_fields(world: dict[str, Any]) -> None:
    repo: Repo = world["repo"]
    with repo.raw("viewer") as http:
        entry = _entry(world, http, "kept")
        assert http.get(entry["url"] + ".metadata").content == META
        deadline = time.monotonic() + 10  # kept after the answer: moments later
        while time.monotonic() < deadline:
            entry = _entry(world, http, "kept")
            if entry.get("requires-dist"):
                break
            time.sleep(0.05)
        assert entry["requires-dist"] == ["helper>=2"]
        assert entry["core-metadata"] == {"sha256": _sha(META)}
        assert http.get(entry["url"] + ".metadata").content == META
    assert world["asked"]["kept-1.0-py3-none-any.whl.metadata"] == 1  # the second came from the cache


def test_a_file_stays_with_the_project_that_listed_it_first(world: dict[str, Any]) -> None:
    repo: Repo = world["repo"]
    with repo.raw("viewer") as http:
        owner = _entry(world, http, "kept")
        thief = http.get(f"{world['index']}thief/", headers={"Accept": JSON_V1})
        assert thief.status_code == 200 and thief.json()["files"] == []
        assert _entry(world, http, "kept")["url"] == owner["url"]
    names = world["server"].state.rows(
        "SELECT normalized_name FROM proxy_files WHERE filename = ?", "kept-1.0-py3-none-any.whl"
    )
    assert names == [("kept",)]
