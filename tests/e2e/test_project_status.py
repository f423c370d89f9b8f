"""PEP 792 project status markers: set through the management API, carried in JSON and HTML simple
pages, acted on by uploads and downloads, passed through by a proxy, and what pip and uv make of
each status."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.clients import Clients
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
HTML = {"Accept": "text/html"}
STATUSES = ("active", "archived", "deprecated", "quarantined")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("status") / "data", outbound_allow_private="true") as running:
        yield running


@pytest.fixture(scope="module")
def repo(server: LiveServer) -> Repo:
    """One package per status, each with one wheel."""
    made = make_repo(server)
    for status in STATUSES:
        name = f"pkg-{status}"
        assert made.upload(f"pkg_{status}-1.0-py3-none-any.whl", d.wheel(name, "1.0")).status_code == 200
        if status != "active":
            with made.client("editor") as api:
                reason = f"because {status}" if status != "archived" else None
                answer = api.put(f"{made.manage}/packages/{name}/status", json={"status": status, "reason": reason})
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == status and answer.json()["status_reason"] == reason
    return made


def _status_of(repo: Repo, name: str) -> tuple[dict, str, int]:
    with repo.raw("viewer") as http:
        page = http.get(repo.simple + f"{name}/", headers=JSON).json()
        html = http.get(repo.simple + f"{name}/", headers=HTML).text
    return page["project-status"], html, len(page["files"])


def test_pages_carry_each_status(repo: Repo) -> None:
    assert _status_of(repo, "pkg-active")[0] == {"status": "active"}
    marker, html, count = _status_of(repo, "pkg-deprecated")
    assert marker == {"status": "deprecated", "reason": "because deprecated"} and count == 1
    assert '<meta name="pypi:project-status" content="deprecated">' in html
    assert '<meta name="pypi:project-status-reason" content="because deprecated">' in html
    marker, html, count = _status_of(repo, "pkg-archived")
    assert marker == {"status": "archived"} and count == 1 and "project-status-reason" not in html
    marker, html, count = _status_of(repo, "pkg-quarantined")
    assert marker == {"status": "quarantined", "reason": "because quarantined"} and count == 0
    assert "pkg_quarantined-1.0" not in html


def test_uploads_and_downloads_follow_the_status(repo: Repo) -> None:
    with repo.client() as api:
        files = {p["name"]: p["files"][0] for p in api.get(f"{repo.manage}/packages").json()}
    for status, allowed in (("archived", False), ("quarantined", False), ("deprecated", True), ("active", True)):
        answer = repo.upload(f"pkg_{status}-2.0-py3-none-any.whl", d.wheel(f"pkg-{status}", "2.0"))
        assert (answer.status_code == 200) is allowed, answer.text
        if not allowed:
            assert answer.status_code == 400 and f"is {status} and does not accept uploads" in answer.text
    with repo.raw("viewer") as http:
        quarantined = files["pkg-quarantined"]
        assert http.get(quarantined["download_url"]).status_code == 404
        assert http.get(files["pkg-archived"]["download_url"]).status_code == 200


def test_status_changes_are_checked_and_audited(repo: Repo) -> None:
    with repo.client("editor") as api:
        bad = api.put(f"{repo.manage}/packages/pkg-active/status", json={"status": "gone"})
        assert bad.status_code == 422 and "status" in bad.text
        missing = api.put(f"{repo.manage}/packages/nothing/status", json={"status": "archived"})
        assert missing.status_code == 404
    with repo.client("member") as api:  # publishing is not enough
        assert api.put(f"{repo.manage}/packages/pkg-active/status", json={"status": "archived"}).status_code == 403
    with repo.client("admin") as api:
        events = api.get("/admin/audit", params={"q": "status=quarantined"}).json()
    assert events and events[0]["action"] == "set_package_status" and "because quarantined" in events[0]["detail"]


def test_a_proxy_passes_statuses_through(server: LiveServer, repo: Repo) -> None:
    with server.admin() as admin:
        settings = {"name": "Mirror", "slug": "mirror", "kind": "proxy", "remote_url": server.url + repo.simple,
                    "cache_ttl": 0, "upstream_username": "__token__",
                    "upstream_password": repo.keys["viewer"]}  # fmt: skip
        proxy = admin.post(f"/spaces/{repo.space}/package-repositories", json=settings).json()
    mirror = proxy["simple_index_url"].removeprefix(server.url)
    with repo.raw("viewer") as http:
        deprecated = http.get(mirror + "pkg-deprecated/", headers=JSON).json()
        quarantined = http.get(mirror + "pkg-quarantined/", headers=HTML).text
    assert deprecated["project-status"] == {"status": "deprecated", "reason": "because deprecated"}
    assert '<meta name="pypi:project-status" content="quarantined">' in quarantined


def test_pip_and_uv_with_each_status(repo: Repo, tmp_path: Path) -> None:
    clients = Clients(tmp_path / "home")
    for status in STATUSES:
        name = f"pkg-{status}"
        pip = clients.pip("install", "--no-cache-dir", "--index-url", repo.index_url("viewer"),
                          "--target", tmp_path / f"pip-{status}", name, check=False)  # fmt: skip
        uv = clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url",
                        repo.index_url("viewer"), "--target", tmp_path / f"uv-{status}", name, check=False)  # fmt: skip
        installable = status != "quarantined"  # archived and deprecated projects still install
        assert (pip.returncode == 0) is installable, pip.stdout + pip.stderr
        assert (uv.returncode == 0) is installable, uv.stdout + uv.stderr
