"""Release cooldown on a proxy of a loopback upstream that published one release a week ago and
one just now: pip and uv see only the older until the allow list names the new one; files
without an upload time stay hidden unless the repository opts out; a virtual repository's hosted
members are never held back."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.support import distbuilder as d
from tests.support.appserver import app_server
from tests.support.clients import Clients
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
NOW = datetime.now(UTC)
WHEELS = {  # filename -> (bytes, upload time)
    "fresh-1.0-py3-none-any.whl": (d.wheel("fresh", "1.0"), NOW - timedelta(days=8)),
    "fresh-2.0-py3-none-any.whl": (d.wheel("fresh", "2.0"), NOW - timedelta(minutes=5)),
    "undated-1.0-py3-none-any.whl": (d.wheel("undated", "1.0"), None),
}


def _upstream() -> Starlette:
    def files_of(project: str) -> list[str]:
        return [name for name in WHEELS if name.startswith(project + "-")]

    async def page(request: Request) -> Response:
        project = request.path_params["project"]
        names = files_of(project)
        if not names:
            return Response(status_code=404)
        if project == "undated":  # an HTML-only upstream: no upload times at all
            links = "".join(
                f'<a href="/files/{n}#sha256={hashlib.sha256(WHEELS[n][0]).hexdigest()}">{n}</a>' for n in names
            )
            return HTMLResponse(f"<html><body>{links}</body></html>")
        document = {"meta": {"api-version": "1.1"}, "name": project, "files": [
            {"filename": n, "url": f"/files/{n}", "hashes": {"sha256": hashlib.sha256(WHEELS[n][0]).hexdigest()},
             "upload-time": WHEELS[n][1].strftime("%Y-%m-%dT%H:%M:%S.%fZ")} for n in names]}  # type: ignore[union-attr]  # fmt: skip
        return JSONResponse(document, media_type="application/vnd.pypi.simple.v1+json")

    async def file(request: Request) -> Response:
        return Response(WHEELS[request.path_params["name"]][0])

    return Starlette(routes=[Route("/simple/{project}/", page), Route("/files/{name}", file)])


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with app_server(_upstream()) as url:
        yield url + "/simple/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cooldown") / "data", outbound_allow_private="true") as running:
        yield running


@pytest.fixture
def repo(server: LiveServer) -> Repo:
    return make_repo(server)


def _proxy(repo: Repo, upstream: str, **settings: object) -> dict:
    with repo.client() as api:
        body = {"name": "Mirror", "slug": "mirror", "kind": "proxy", "remote_url": upstream, "cache_ttl": 0}
        made = api.post(f"/spaces/{repo.space}/package-repositories", json={**body, **settings})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _manage(repo: Repo, repository: dict) -> str:
    return f"/spaces/{repo.space}/package-repositories/{repository['id']}"


def _versions(repo: Repo, index: str, project: str) -> set[str]:
    with repo.raw("viewer") as http:
        page = http.get(index.removeprefix(repo.server.url) + f"{project}/", headers=JSON)
    return {f["filename"].split("-")[1] for f in page.json()["files"]} if page.status_code == 200 else set()


def _installed(clients: Clients, repo: Repo, index: str, target: Path, tool: str) -> str:
    url = index.replace("http://", f"http://__token__:{repo.keys['viewer']}@")
    if tool == "pip":
        clients.pip("install", "--no-cache-dir", "--index-url", url, "--target", target, "fresh")
    else:
        clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url", url,
                   "--target", target, "fresh")  # fmt: skip
    (found,) = target.glob("fresh-*.dist-info")
    return found.name.removeprefix("fresh-").removesuffix(".dist-info")


def test_pip_and_uv_see_only_releases_older_than_the_cooldown(repo: Repo, upstream: str, tmp_path: Path) -> None:
    proxy = _proxy(repo, upstream, min_release_age="7d")
    assert proxy["cooldown"] == {"min_release_age": 7 * 86400, "allow": [], "allow_undated": False}
    index = proxy["simple_index_url"]
    clients = Clients(tmp_path / "home")
    assert _versions(repo, index, "fresh") == {"1.0"}
    assert _installed(clients, repo, index, tmp_path / "pip-1", "pip") == "1.0"
    assert _installed(clients, repo, index, tmp_path / "uv-1", "uv") == "1.0"
    with repo.raw("viewer") as http:  # the new file cannot be fetched around the page either
        with repo.client() as api:
            api.patch(_manage(repo, proxy), json={"min_release_age": "0"})
        page = http.get(index.removeprefix(repo.server.url) + "fresh/", headers=JSON).json()
        link = next(f["url"] for f in page["files"] if "2.0" in f["filename"])
        with repo.client() as api:
            api.patch(_manage(repo, proxy), json={"min_release_age": "7d"})
        assert http.get(link).status_code == 404
    with repo.client() as api:  # a reviewed urgent fix goes through
        allowed = api.patch(_manage(repo, proxy), json={"cooldown_allow": ["Fresh==2.0"]})
        assert allowed.json()["cooldown"]["allow"] == ["fresh==2.0"]
    assert _versions(repo, index, "fresh") == {"1.0", "2.0"}
    assert _installed(clients, repo, index, tmp_path / "pip-2", "pip") == "2.0"
    assert _installed(clients, repo, index, tmp_path / "uv-2", "uv") == "2.0"


def test_files_without_an_upload_time_fail_closed(repo: Repo, upstream: str) -> None:
    proxy = _proxy(repo, upstream, min_release_age="1d")
    assert _versions(repo, proxy["simple_index_url"], "undated") == set()
    with repo.client() as api:
        api.patch(_manage(repo, proxy), json={"cooldown_allow_undated": True})
    assert _versions(repo, proxy["simple_index_url"], "undated") == {"1.0"}


def test_hosted_members_of_a_virtual_repository_are_not_held_back(repo: Repo, upstream: str) -> None:
    proxy = _proxy(repo, upstream)
    assert repo.upload("fresh-3.0-py3-none-any.whl", d.wheel("fresh", "3.0")).status_code == 200  # just now
    with repo.client() as api:
        virtual = api.post(f"/spaces/{repo.space}/package-repositories", json={
            "name": "All", "kind": "virtual", "members": [repo.id, proxy["id"]], "merge": True,
            "min_release_age": "7d"}).json()  # fmt: skip
    assert _versions(repo, virtual["simple_index_url"], "fresh") == {"1.0", "3.0"}


def test_cooldown_settings_are_checked(repo: Repo, upstream: str) -> None:
    with repo.client() as api:
        base = f"/spaces/{repo.space}/package-repositories"
        for settings, field in (({"min_release_age": "a week"}, "min_release_age"),
                                ({"min_release_age": "400d"}, "min_release_age"),
                                ({"cooldown_allow": ["fresh>=2"]}, "cooldown_allow")):  # fmt: skip
            answer = api.post(base, json={"name": "P", "kind": "proxy", "remote_url": upstream, **settings})
            assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field, answer.text
        hosted = api.patch(repo.manage, json={"min_release_age": "7d"})
        assert hosted.status_code == 422 and "proxy and virtual" in hosted.text
