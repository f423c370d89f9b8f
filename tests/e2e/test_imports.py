"""Importing an exact release with its dependency closure from a real upstream on loopback,
then installing it with pip and uv from the importing repository alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import distbuilder as d
from tests.support.clients import Clients, make_project
from tests.support.harness import Repo, importing_server, live_server, make_repo, wait_for_job
from tests.support.net import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    root = tmp_path_factory.mktemp("import-upstream-projects")
    clients = Clients(root / "home")
    specs = [
        ("app", "1.0", ("lib>=1.0", "internal-lib", "win-only; sys_platform == 'win32'")),
        ("lib", "1.0", ()), ("lib", "1.1", ()), ("win-only", "1.0", ()),
        ("internal-lib", "9.0", ()),  # a public name squatting on a private one
    ]  # fmt: skip
    with live_server(tmp_path_factory.mktemp("import-upstream") / "data") as server:
        repo = make_repo(server)
        for name, version, deps in specs:
            for path in clients.build(make_project(root / f"{name}-{version}", name, version, dependencies=deps),
                                      root / f"{name}-{version}" / "dist"):  # fmt: skip
                assert repo.upload(path.name, path.read_bytes()).status_code == 200
        yield repo


@pytest.fixture(scope="module")
def importer(upstream: Repo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    root = tmp_path_factory.mktemp("private")
    private = Clients(root / "home").build(make_project(root, "internal-lib", "1.0"), root / "dist")
    with importing_server(upstream, tmp_path_factory.mktemp("importer") / "data") as repo:
        for path in private:  # the private package, uploaded here
            assert repo.upload(path.name, path.read_bytes()).status_code == 200
        yield repo


IMPORT = {"package_name": "app", "version": "1.0", "python_tags": ["cp311"],
          "platform_tags": ["manylinux_2_17_x86_64"], "include_sdists": False}  # fmt: skip


def _run(repo: Repo, body: dict) -> dict:
    with repo.client() as api:
        queued = api.post(f"{repo.manage}/imports/pypi", json=body)
        assert queued.status_code == 202, queued.text
        return wait_for_job(api, f"{repo.manage}/imports/pypi/jobs/{queued.json()['job_id']}")


def _names(files: list[dict]) -> list[str]:
    return sorted(f["filename"] for f in files)


def test_import_a_closure_and_install_it(importer: Repo, upstream: Repo, tmp_path: Path) -> None:
    status = _run(importer, IMPORT)
    assert status["status"] == "completed", status
    result = status["result"]
    assert _names(result["imported_root_files"]) == ["app-1.0-py3-none-any.whl"]
    assert _names(result["imported_dependency_files"]) == ["lib-1.1-py3-none-any.whl"]  # no win-only on Linux
    (skipped,) = result["skipped_dependency_files"]
    assert (
        skipped["filename"] == "internal_lib-9.0-py3-none-any.whl" and "hosted here from uploads" in skipped["reason"]
    )
    assert status["progress_events"][-1]["phase"] == "completed"

    with importer.client() as api:
        lib = api.get(f"{importer.manage}/packages/lib").json()["files"][0]
        assert lib["source"] == "import" and lib["upstream_sha256"] == lib["sha256"]
        assert lib["upstream_url"].startswith(upstream.server.url + upstream.simple.removesuffix("simple/") + "files/")
        assert lib["upstream_upload_time"] is not None
        assert any(e["action"] == "import" for e in api.get("/admin/audit", params={"resource_type": "file"}).json())

    clients = Clients(tmp_path / "home")
    clients.pip(
        "install", "--no-cache-dir", "--index-url", importer.index_url("viewer"), "--target", tmp_path / "pip", "app"
    )
    clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url", importer.index_url("viewer"),
               "--target", tmp_path / "uv", "app")  # fmt: skip
    for target in ("pip", "uv"):
        installed = {p.name for p in (tmp_path / target).glob("*.dist-info")}
        assert installed == {"app-1.0.dist-info", "lib-1.1.dist-info", "internal_lib-1.0.dist-info"}

    again = _run(importer, IMPORT)["result"]
    assert again["imported_root_files"] == [] and again["imported_dependency_files"] == []
    assert {f["reason"] for f in again["skipped_root_files"]} == {"already present with the same bytes"}


def test_naming_a_hosted_dependency_imports_it(importer: Repo) -> None:
    repo = make_repo(importer.server)  # hosts its own internal-lib, from an upload
    with importer.client() as api:
        private = api.get(f"{importer.manage}/packages/internal-lib").json()["files"][0]
        auth = ("__token__", importer.keys["viewer"])
        content = httpx.get(private["download_url"], auth=auth, follow_redirects=True).content
    assert repo.upload(private["filename"], content).status_code == 200
    named = [{"normalized_name": "internal-lib", "version": "9.0", "filename": "internal_lib-9.0-py3-none-any.whl"}]
    result = _run(repo, {**IMPORT, "selected_dependency_artifacts": named})["result"]
    assert _names(result["imported_dependency_files"]) == ["internal_lib-9.0-py3-none-any.whl"]


@pytest.mark.parametrize(
    ("body", "status"),
    [({**IMPORT, "python_tags": ["py2"]}, 422), ({**IMPORT, "package_name": "missing"}, 404),
     ({**IMPORT, "selected_dependency_artifacts": [{"normalized_name": "lib"}]}, 422), ({"version": "1.0"}, 422)],
)  # fmt: skip
def test_import_requests_are_checked_before_queuing(importer: Repo, body: dict, status: int) -> None:
    with importer.client() as api:
        assert api.post(f"{importer.manage}/imports/pypi", json=body).status_code == status


def test_imports_need_an_upstream_and_an_admin(repo: Repo, importer: Repo) -> None:
    with repo.client() as api:  # the session server has no upstream
        response = api.post(f"{repo.manage}/imports/pypi", json=IMPORT)
        assert response.status_code == 503 and "No upstream index" in response.json()["detail"]
    with importer.client("editor") as editor:
        assert editor.post(f"{importer.manage}/imports/pypi", json=IMPORT).status_code == 403


def test_an_import_interrupted_by_a_crash(tmp_path: Path) -> None:
    # A 1 MiB wheel served at about 320 KiB/s by an upstream without ranges or metadata.
    wheel = d.zip_bytes({**d.wheel_members("slowpkg"), "slowpkg/data.bin": os.urandom(1024 * 1024)}, compression=0)
    root = tmp_path / "upstream"
    (root / "files").mkdir(parents=True)
    (root / "files" / "slowpkg-1.0-py3-none-any.whl").write_bytes(wheel)
    (root / "simple" / "slowpkg").mkdir(parents=True)
    digest = hashlib.sha256(wheel).hexdigest()
    (root / "simple" / "slowpkg" / "index.html").write_text(
        f'<a href="../../files/slowpkg-1.0-py3-none-any.whl#sha256={digest}">slowpkg-1.0-py3-none-any.whl</a>'
    )
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "support" / "throttled_http.py"), str(port), str(root)]
    )
    settings = {"upstream_index_url": f"http://127.0.0.1:{port}/simple/"}
    try:
        time.sleep(0.5)
        data = tmp_path / "data"
        with live_server(data, **settings) as server:
            key = server.admin_key
            repo = make_repo(server)
            with repo.client() as api:
                body = {**IMPORT, "package_name": "slowpkg", "version": "1.0"}
                job = api.post(f"{repo.manage}/imports/pypi", json=body).json()["job_id"]
                path = f"{repo.manage}/imports/pypi/jobs/{job}"
                for _ in range(400):
                    if api.get(path).json()["phase"] == "importing":
                        break
                    time.sleep(0.05)
                else:
                    raise AssertionError("the import never reached its download phase")
            assert server.process is not None
            server.process.kill()  # no shutdown: as if the machine lost power
            server.process.wait(10)
        with live_server(data, admin_key=key, **settings) as again, repo.client() as api:
            api.base_url = httpx.URL(again.api)
            status = api.get(path).json()
            assert status["status"] == "failed" and status["error_message"].startswith("Interrupted")
            assert api.get(f"{repo.manage}/packages/slowpkg").status_code == 404
            with httpx.Client(base_url=again.url, auth=("__token__", repo.keys["viewer"])) as http:
                assert http.get(repo.simple + "slowpkg/").status_code == 404
            assert not any(digest in blob for blob in again.blobs())
    finally:
        upstream.terminate()
        upstream.wait(10)
