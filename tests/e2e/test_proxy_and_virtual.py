"""Proxy and virtual repositories against real upstreams on loopback, with real pip and uv.

The upstream is another Qarion PyPI server (JSON pages, PEP 658 metadata, ETags) or a static
PEP 503 tree served by ``python -m http.server`` (HTML only, no metadata).
"""

from __future__ import annotations

import hashlib
import html
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Clients, make_project
from tests.support.harness import LiveServer, live_server, static_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("proxy-projects")
    clients = Clients(root / "home")
    specs = {
        "alpha-1": ("alpha", "1.0", ()), "alpha-2": ("alpha", "2.0", ()), "beta": ("beta", "1.0", ("alpha>=1.0",)),
        "internal-public": ("internal-lib", "9.0", ()), "internal-private": ("internal-lib", "1.0", ()),
        "gamma": ("gamma", "1.0", ()),
    }  # fmt: skip
    return {key: clients.build(make_project(root / key, *spec[:2], dependencies=spec[2]), root / key / "dist")
            for key, spec in specs.items()}  # fmt: skip


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, built: dict[str, list[Path]]) -> Iterator[dict]:
    with live_server(tmp_path_factory.mktemp("upstream") / "data") as server:
        with server.admin() as admin:
            admin.post("/spaces", json={"name": "Public", "slug": "public"}).raise_for_status()
            repo = admin.post("/spaces/public/package-repositories", json={"name": "PyPI"}).json()
            for key in ("alpha-1", "alpha-2", "beta", "internal-public"):
                for path in built[key]:
                    admin.post(f"/spaces/public/package-repositories/{repo['id']}/files",
                               files={"file": (path.name, path.read_bytes())}).raise_for_status()  # fmt: skip
        yield {"server": server, "index": repo["simple_index_url"]}


@pytest.fixture(scope="module")
def static_upstream(tmp_path_factory: pytest.TempPathFactory, built: dict[str, list[Path]]) -> Iterator[str]:
    root = tmp_path_factory.mktemp("static")
    wheel = next(p for p in built["gamma"] if p.suffix == ".whl")
    (root / "files").mkdir()
    (root / "files" / wheel.name).write_bytes(wheel.read_bytes())
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (root / "simple" / "gamma").mkdir(parents=True)
    (root / "simple" / "gamma" / "index.html").write_text(
        f'<html><body><a href="../../files/{html.escape(wheel.name)}#sha256={digest}">{wheel.name}</a></body></html>'
    )
    # a page whose published hash does not match the file: it must never be cached or installed
    tampered = wheel.name.replace("gamma", "delta")
    (root / "files" / tampered).write_bytes(wheel.read_bytes())
    (root / "simple" / "delta").mkdir(parents=True)
    (root / "simple" / "delta" / "index.html").write_text(
        f'<html><body><a href="../../files/{tampered}#sha256={"0" * 64}">{tampered}</a></body></html>'
    )
    with static_server(root) as url:
        yield url + "simple/"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # The server under test may reach loopback: its upstreams in these tests live there.
    with live_server(tmp_path_factory.mktemp("mirror") / "data", outbound_allow_private="true") as server:
        yield server


def test_proxy_virtual_and_upstream_outage(mirror: LiveServer, upstream: dict, static_upstream: str,
                                           built: dict[str, list[Path]], tmp_path: Path) -> None:  # fmt: skip
    upstream_server: LiveServer = upstream["server"]
    admin = mirror.admin()
    admin.post("/spaces", json={"name": "Acme", "slug": "acme"}).raise_for_status()
    base = "/spaces/acme/package-repositories"
    proxy = admin.post(base, json={"name": "Mirror", "kind": "proxy", "remote_url": upstream["index"], "cache_ttl": 0,
                                   "upstream_username": "__token__",
                                   "upstream_password": upstream_server.admin_key}).json()  # fmt: skip
    assert proxy["kind"] == "proxy" and proxy["has_upstream_credentials"] is True and "upstream_password" not in proxy
    private = admin.post(base, json={"name": "Private"}).json()
    for path in built["internal-private"]:
        admin.post(f"{base}/{private['id']}/files", files={"file": (path.name, path.read_bytes())}).raise_for_status()
    virtual = admin.post(base, json={"name": "All", "kind": "virtual", "members": [private["id"], proxy["id"]],
                                     "upload_target_id": private["id"]}).json()  # fmt: skip
    static = admin.post(base, json={"name": "Static", "kind": "proxy", "remote_url": static_upstream}).json()

    clients = Clients(tmp_path / "home")
    host = mirror.url.removeprefix("http://")

    def index(repo: dict) -> str:
        return repo["simple_index_url"].replace(f"http://{host}", f"http://__token__:{mirror.admin_key}@{host}")

    def installed(target: Path) -> set[str]:
        return {p.name for p in target.glob("*.dist-info")}

    def pip(repo: dict, target: str, *names: str) -> set[str]:
        clients.pip("install", "--no-cache-dir", "--index-url", index(repo), "--target", tmp_path / target, *names)
        return installed(tmp_path / target)

    def uv(repo: dict, target: str, *names: str) -> set[str]:
        clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url", index(repo),
                   "--target", tmp_path / target, *names)  # fmt: skip
        return installed(tmp_path / target)

    # through the proxy, metadata and all
    assert pip(proxy, "pip-1", "beta") == {"alpha-2.0.dist-info", "beta-1.0.dist-info"}
    assert uv(proxy, "uv-1", "beta") == {"alpha-2.0.dist-info", "beta-1.0.dist-info"}
    # dependency confusion: the upstream's internal-lib 9.0 never shows through the virtual repository
    assert pip(virtual, "virtual", "internal-lib") == {"internal_lib-1.0.dist-info"}
    with httpx.Client(auth=("__token__", mirror.admin_key)) as http:
        page = http.get(
            virtual["simple_index_url"] + "internal-lib/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        assert [f["filename"] for f in page.json()["files"]] == [p.name for p in sorted(built["internal-private"])]
        # an upstream without PEP 658 metadata: served anyway, read out of the cached wheel
        gamma = http.get(
            static["simple_index_url"] + "gamma/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        ).json()
        assert gamma["files"][0]["core-metadata"] is True
        metadata = http.get(mirror.url + gamma["files"][0]["url"] + ".metadata")
        assert metadata.status_code == 200 and metadata.text.startswith("Metadata-Version")
    assert pip(static, "static", "gamma") == {"gamma-1.0.dist-info"}
    tampered = clients.pip("install", "--no-cache-dir", "--no-deps", "--index-url", index(static), "--target",
                           tmp_path / "tampered", "delta", check=False)  # fmt: skip
    assert tampered.returncode != 0 and not list((tmp_path / "tampered").glob("delta*"))
    with httpx.Client(base_url=mirror.url, auth=("__token__", mirror.admin_key)) as http:
        delta = http.get(
            static["simple_index_url"] + "delta/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        refused = http.get(delta.json()["files"][0]["url"] + ".metadata")
        assert refused.status_code == 503 and "does not match its published sha256" in refused.text
    cached = mirror.state.rows("SELECT blob_sha256 FROM proxy_files WHERE filename LIKE 'delta%'")
    assert cached == [(None,)]

    # redirect mode: clients are sent to the upstream's own URL instead of through this server
    redirecting = admin.post(base, json={"name": "Redirect", "kind": "proxy", "remote_url": static_upstream,
                                         "file_mode": "redirect"}).json()  # fmt: skip
    with httpx.Client(base_url=mirror.url, auth=("__token__", mirror.admin_key)) as http:
        page = http.get(
            redirecting["simple_index_url"] + "gamma/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        sent = http.get(page.json()["files"][0]["url"], follow_redirects=False)
        assert sent.status_code == 302 and sent.headers["location"].startswith(static_upstream.removesuffix("simple/"))

    # yanks, requires-python and upload times pass through (cache_ttl 0: every page is revalidated)
    with upstream_server.admin() as up:
        repo_id = up.get("/spaces/public/package-repositories").json()[0]["id"]
        for file in up.get(f"/spaces/public/package-repositories/{repo_id}/packages/alpha").json()["files"]:
            if file["version"] == "2.0":
                up.patch(f"/spaces/public/package-repositories/files/{file['id']}/yank",
                         json={"yanked": True, "reason": "broken"}).raise_for_status()  # fmt: skip
    with httpx.Client(auth=("__token__", mirror.admin_key)) as http:
        alpha = http.get(
            proxy["simple_index_url"] + "alpha/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        files = {f["filename"]: f for f in alpha.json()["files"]}
    assert files["alpha-2.0-py3-none-any.whl"]["yanked"] == "broken"
    assert files["alpha-1.0-py3-none-any.whl"]["yanked"] is False
    assert all(f["requires-python"] == ">=3.8" and f["upload-time"] for f in files.values())
    assert pip(proxy, "after-yank", "alpha") == {"alpha-1.0.dist-info"}

    # the upstream goes away: cached pages and files keep installs working; unseen projects are 404
    # (alpha 2.0 is yanked upstream by now, so beta's requirement resolves to the cached alpha 1.0)
    upstream_server.stop()
    assert pip(proxy, "pip-2", "beta") == {"alpha-1.0.dist-info", "beta-1.0.dist-info"}
    assert uv(proxy, "uv-2", "beta") == {"alpha-1.0.dist-info", "beta-1.0.dist-info"}
    with httpx.Client(auth=("__token__", mirror.admin_key)) as http:
        assert http.get(proxy["simple_index_url"] + "never-seen/").status_code == 404
        listed = http.get(proxy["simple_index_url"], headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        assert {p["name"] for p in listed["projects"]} == {"alpha", "beta"}
    admin.close()
