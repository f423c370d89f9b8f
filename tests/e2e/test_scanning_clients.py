"""pip and uv against a scanned repository: a package that depends on a vulnerable release cannot
be installed under block_by_threshold, can under report_only, and the management API shows the
findings either way. Real builds, real twine, a real upstream as the public index."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import Clients, make_project
from tests.support.harness import Repo, cli, importing_server, live_server, make_repo
from tests.support.osv_data import write_export
from tests.support.scanning import set_policy, wait_for_scan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Clients:
    return Clients(tmp_path_factory.mktemp("scan-clients") / "home")


@pytest.fixture(scope="module")
def public(clients: Clients, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    root = tmp_path_factory.mktemp("scan-public-projects")
    with live_server(tmp_path_factory.mktemp("scan-public") / "data") as server:
        repo = make_repo(server)
        for version in ("1.0", "2.2"):
            for path in clients.build(make_project(root / version, "libvuln", version), root / version / "dist"):
                assert repo.upload(path.name, path.read_bytes()).status_code == 200
        yield repo


@pytest.fixture(scope="module")
def scanned(public: Repo, clients: Clients, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    data = tmp_path_factory.mktemp("scan-private") / "data"
    with importing_server(public, data, scanning_enabled="true") as repo:
        assert cli("osv", "import", write_export(data.parent / "osv.zip"), "--data-dir", data).returncode == 0
        set_policy(
            repo,
            enabled=True,
            include_public_index=True,
            enforcement_mode="block_by_threshold",
            severity_threshold="high",
            target_python_version=f"{sys.version_info[0]}.{sys.version_info[1]}",
        )
        root = data.parent / "app"
        built = clients.build(make_project(root, "app", "1.0", dependencies=("libvuln==1.0",)), root / "dist")
        clients.twine_upload(repo.server.url + repo.legacy, repo.keys["member"], *built)  # wheel and sdist
        yield repo


def _install(clients: Clients, repo: Repo, public: Repo, target: Path, tool: str) -> tuple[bool, str]:
    indexes = ["--index-url", repo.index_url("viewer"), "--extra-index-url", public.index_url("viewer")]
    if tool == "pip":
        result = clients.pip("install", "--no-cache-dir", *indexes, "--target", target, "app", check=False)
    else:
        result = clients.uv(
            "pip",
            "install",
            "--no-cache",
            "--python",
            sys.executable,
            *indexes,
            "--index-strategy",
            "first-index",
            "--target",
            target,
            "app",
            check=False,
        )
    return result.returncode == 0, result.stdout + result.stderr


def _scans(repo: Repo) -> list[dict]:
    """Each of app's files (wheel and sdist) as the management API shows it, with its scan."""
    with repo.client("viewer") as api:
        files = api.get(f"{repo.manage}/packages/app").json()["files"]
        scans = [wait_for_scan(repo, file["id"]) for file in files]
        files = api.get(f"{repo.manage}/packages/app").json()["files"]
    assert len(files) == 2
    return [{**scan, "file": file} for scan, file in zip(scans, files, strict=True)]


def test_block_by_threshold_stops_pip_and_uv_and_report_only_lets_them(
    scanned: Repo, public: Repo, clients: Clients, tmp_path: Path
) -> None:
    for scan in _scans(scanned):
        assert scan["status"] == "completed", scan
        assert [f["id"] for f in scan["findings"]] == ["PYSEC-2024-1", "PYSEC-2024-2"]
        assert scan["dependencies"] == [
            {"name": "libvuln", "version": "1.0", "required_by": ["app"], "source": "public index"}
        ]
        assert scan["blocked"] is True and scan["file"]["is_blocked"] is True
    for tool in ("pip", "uv"):
        installed, output = _install(clients, scanned, public, tmp_path / f"blocked-{tool}", tool)
        assert not installed, output
        assert "No matching distribution found for app" in output or "there are no versions of app" in output

    set_policy(scanned, enforcement_mode="report_only")
    for scan in _scans(scanned):
        assert [f["id"] for f in scan["findings"]] == ["PYSEC-2024-1", "PYSEC-2024-2"] and scan["blocked"] is False
        assert scan["file"]["vulnerability_summary"] == {"finding_count": 2, "max_severity": "critical"}
    for tool in ("pip", "uv"):
        target = tmp_path / f"reported-{tool}"
        installed, output = _install(clients, scanned, public, target, tool)
        assert installed, output
        assert {p.name for p in target.glob("*.dist-info")} == {"app-1.0.dist-info", "libvuln-1.0.dist-info"}
