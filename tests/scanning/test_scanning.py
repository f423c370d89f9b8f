"""Vulnerability scanning over HTTP: policy, scans on upload and on demand, results, and the
enforcement package clients see. A real upstream server plays the public index; OSV records are
loaded with ``qarion-pypi osv import`` while the scanning server runs."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from qarion_pypi.scanning.policy import Enforcement, ScanPolicy
from tests.support import distbuilder as d
from tests.support.harness import (
    LiveServer,
    Repo,
    cli,
    helper_server,
    importing_server,
    live_server,
    make_repo,
    wait_for_job,
)
from tests.support.net import free_port
from tests.support.osv_data import write_directory, write_export
from tests.support.scanning import (
    file_scan_path,
    page_files,
    requiring,
    set_policy,
    upload,
    wait_for_scan,
)


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """The "public index": libvuln 1.0 (critical and high findings), 2.2 (clean), medlib 1.2 (medium)."""
    with live_server(tmp_path_factory.mktemp("public") / "data") as server:
        repo = make_repo(server)
        for name, version in (("libvuln", "1.0"), ("libvuln", "2.2"), ("medlib", "1.2")):
            assert repo.upload(f"{name}-{version}-py3-none-any.whl", d.wheel(name, version)).status_code == 200
        yield repo


@pytest.fixture(scope="module")
def scanner(public: Repo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("scanner") / "data"
    with importing_server(public, data, scanning_enabled="true") as repo:
        export = write_export(tmp_path_factory.mktemp("osv") / "all.zip")
        loaded = cli("osv", "import", export, "--data-dir", data)  # while the server runs, as operators do
        assert loaded.returncode == 0, loaded.stderr
        assert isinstance(repo.server, LiveServer)
        yield repo.server


@pytest.fixture
def scanned(scanner: LiveServer) -> Repo:
    """A fresh repository whose policy scans against the public index and blocks at high."""
    repo = make_repo(scanner)
    policy = {
        "enabled": True,
        "include_public_index": True,
        "enforcement_mode": "block_by_threshold",
        "severity_threshold": "high",
        "target_python_version": "3.11",
    }
    with repo.client() as api:
        assert api.patch(f"{repo.manage}/scan-policy", json=policy).status_code == 200
    return repo


def test_policy_defaults_then_every_field(scanner: LiveServer) -> None:
    repo = make_repo(scanner)
    with repo.client("viewer") as api:
        default = api.get(f"{repo.manage}/scan-policy").json()
    assert default == {**ScanPolicy().as_dict(), "platform_scanning_enabled": True}
    full = {
        "enabled": True,
        "provider": "osv",
        "target_python_version": "3.12",
        "target_platform": "macosx_11_0_arm64",
        "include_public_index": True,
        "public_index_url": "https://index.example.invalid/simple",
        "extra_index_urls": ["https://packages.example.invalid/simple"],
        "enforcement_mode": "block_by_threshold",
        "severity_threshold": "critical",
        "block_pending": True,
        "block_failed": True,
    }
    assert set_policy(repo, **full) == {**full, "platform_scanning_enabled": True}
    with repo.client("viewer") as api:
        assert api.get(f"{repo.manage}/scan-policy").json() == {**full, "platform_scanning_enabled": True}
        shown = api.get(repo.manage).json()
    assert shown["scan_policy"] == full
    assert shown["security_summary"]["scanning_active"] is True
    # PATCH changes only what it names
    assert set_policy(repo, block_failed=False)["block_pending"] is True


def test_policy_validation_reports_every_field(scanner: LiveServer) -> None:
    repo = make_repo(scanner)
    bad = {
        "enabled": "yes",
        "provider": "snyk",
        "target_python_version": "2.7",
        "target_platform": "solaris_sparc",
        "public_index_url": "https://user:pw@index.invalid/simple",
        "extra_index_urls": ["ftp://x", 3],
        "enforcement_mode": "block_all",
        "severity_threshold": "severe",
        "surprise": 1,
    }
    with repo.client() as api:
        response = api.patch(f"{repo.manage}/scan-policy", json=bad)
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {
            "enabled",
            "provider",
            "extra_index_urls",
            "enforcement_mode",
            "severity_threshold",
            "surprise",
        }
        values = {
            "target_python_version": "2.7",
            "target_platform": "solaris_sparc",
            "public_index_url": "https://user:pw@index.invalid/simple",
            "extra_index_urls": ["ftp://x"],
        }
        response = api.patch(f"{repo.manage}/scan-policy", json=values)
        assert response.status_code == 422
        errors = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert set(errors) == {"target_python_version", "target_platform", "public_index_url", "extra_index_urls[0]"}
        assert "credentials" in errors["public_index_url"]
        assert api.get(f"{repo.manage}/scan-policy").json()["target_python_version"] is None  # nothing applied


def test_policy_and_scan_permissions(scanned: Repo) -> None:
    file = upload(scanned, "solo-1.0-py3-none-any.whl", d.wheel("solo", "1.0"))
    wait_for_scan(scanned, file["id"])
    with scanned.client("viewer") as api:
        assert api.get(f"{scanned.manage}/scan-policy").status_code == 200
        assert api.get(file_scan_path(scanned, file["id"])).status_code == 200
    with scanned.client("editor") as api:
        denied = api.patch(f"{scanned.manage}/scan-policy", json={"enabled": False})
        assert denied.status_code == 403 and "admin access" in denied.json()["detail"]
        denied = api.post(file_scan_path(scanned, file["id"]), json={})
        assert denied.status_code == 403 and "scan access" in denied.json()["detail"]
        assert api.post(f"{scanned.manage}/scans", json={}).status_code == 403
    with scanned.client("outsider") as api:
        assert api.get(f"{scanned.manage}/scan-policy").status_code == 404
        assert api.get(file_scan_path(scanned, file["id"])).status_code == 404


def test_a_vulnerable_dependency_blocks_the_file_for_clients_only(scanned: Repo) -> None:
    bad = upload(scanned, "app-1.0-py3-none-any.whl", requiring("app", "1.0", "libvuln==1.0", "medlib"))
    good = upload(scanned, "app-2.0-py3-none-any.whl", requiring("app", "2.0", "libvuln>=2"))
    assert bad["scan_status"] == "pending"  # queued in the upload's own transaction
    scan = wait_for_scan(scanned, bad["id"])
    assert scan["status"] == "completed", scan
    assert scan["trigger"] == "upload"
    assert scan["targets"] == {
        "python_version": "3.11",
        "platform": "manylinux_2_17_x86_64",
        "indexes": ["repository", "public index"],
    }
    assert scan["dependencies"] == [
        {"name": "libvuln", "version": "1.0", "required_by": ["app"], "source": "public index"},
        {"name": "medlib", "version": "1.2", "required_by": ["app"], "source": "public index"},
    ]
    assert (scan["dependency_count"], scan["finding_count"], scan["max_severity"]) == (2, 3, "critical")
    assert [(f["id"], f["severity"], f["package"], f["version"]) for f in scan["findings"]] == [
        ("PYSEC-2024-1", "critical", "libvuln", "1.0"),
        ("PYSEC-2024-2", "high", "libvuln", "1.0"),
        ("GHSA-dddd-eeee-ffff", "medium", "medlib", "1.2"),
    ]
    assert scan["findings"][0]["aliases"] == ["CVE-2024-1111", "GHSA-aaaa-bbbb-cccc"]
    assert scan["findings"][0]["fixed_versions"] == ["1.5", "2.2"]
    assert scan["blocked"] is True and "critical" in scan["blocked_reason"]
    assert scan["enforcement"] == {
        "active": True,
        "enforcement_mode": "block_by_threshold",
        "severity_threshold": "high",
        "block_pending": False,
        "block_failed": False,
    }
    clean = wait_for_scan(scanned, good["id"])
    assert (clean["status"], clean["finding_count"], clean["blocked"]) == ("completed", 0, False)
    assert clean["dependencies"][0]["version"] == "2.2"

    # package clients: the page leaves the file out; the file and its metadata are not there
    assert page_files(scanned, "app") == ["app-2.0-py3-none-any.whl"]
    with scanned.raw("viewer") as http:
        assert http.get(bad["download_url"]).status_code == 404
        assert http.get(bad["download_url"] + ".metadata").status_code == 404
        assert http.get(good["download_url"]).status_code == 200
    # the management API still shows both, with the findings
    with scanned.client("viewer") as api:
        files = {f["filename"]: f for f in api.get(f"{scanned.manage}/packages/app").json()["files"]}
        summary = api.get(scanned.manage).json()["security_summary"]
    assert files["app-1.0-py3-none-any.whl"]["is_blocked"] is True
    assert files["app-1.0-py3-none-any.whl"]["vulnerability_summary"] == {
        "finding_count": 3,
        "max_severity": "critical",
    }
    assert files["app-2.0-py3-none-any.whl"]["is_blocked"] is False
    assert summary["files_total"] == 2 and summary["blocked_files"] == 1
    assert summary["by_status"]["completed"] == 2
    assert summary["by_severity"]["critical"] == 1 and summary["by_severity"]["none"] == 1

    # a higher threshold, then report_only: the file comes back at once (the policy moves the serial)
    set_policy(scanned, severity_threshold="critical")
    assert page_files(scanned, "app") == ["app-2.0-py3-none-any.whl"]
    set_policy(scanned, enforcement_mode="report_only")
    assert page_files(scanned, "app") == ["app-1.0-py3-none-any.whl", "app-2.0-py3-none-any.whl"]
    with scanned.raw("viewer") as http:
        assert http.get(bad["download_url"]).status_code == 200
    with scanned.client("viewer") as api:
        reported = api.get(file_scan_path(scanned, bad["id"])).json()
    assert reported["finding_count"] == 3 and reported["blocked"] is False


def test_resolution_failure_fails_the_scan_and_block_failed_hides_it(scanned: Repo) -> None:
    set_policy(scanned, block_failed=True)
    file = upload(scanned, "orphan-1.0-py3-none-any.whl", requiring("orphan", "1.0", "no-such-project>=1"))
    scan = wait_for_scan(scanned, file["id"])
    assert scan["status"] == "failed"
    assert "no available release satisfies no-such-project>=1" in scan["error_message"]
    assert scan["blocked"] is True
    assert page_files(scanned, "orphan") == []
    with scanned.client() as api:
        again = api.post(file_scan_path(scanned, file["id"]), json={"trigger": "retry"})
        assert again.status_code == 202 and again.json()["trigger"] == "retry"
    assert wait_for_scan(scanned, file["id"])["status"] == "failed"
    set_policy(scanned, block_failed=False)
    assert page_files(scanned, "orphan") == ["orphan-1.0-py3-none-any.whl"]


def test_manual_retry_and_repository_scans(scanned: Repo) -> None:
    first = upload(scanned, "tool-1.0-py3-none-any.whl", requiring("tool", "1.0", "medlib"))
    second = upload(scanned, "tool-1.1-py3-none-any.whl", d.wheel("tool", "1.1"))
    for file in (first, second):
        wait_for_scan(scanned, file["id"])
    with scanned.client() as api:
        retry = api.post(file_scan_path(scanned, first["id"]), json={"trigger": "retry"})
        assert retry.status_code == 409 and "Only a failed or skipped scan" in retry.json()["detail"]
        manual = api.post(file_scan_path(scanned, first["id"]), json={})
        assert manual.status_code == 202 and manual.json()["status"] == "pending"
        bad_trigger = api.post(file_scan_path(scanned, first["id"]), json={"trigger": "upload"})
        assert bad_trigger.status_code in (409, 422)  # already queued, or not a trigger callers may ask for
        wait_for_scan(scanned, first["id"])
        queued = api.post(f"{scanned.manage}/scans", json={})
        assert queued.status_code == 202 and queued.json()["scan_count"] == 2
        job = wait_for_job(api, f"{scanned.manage}/scans/jobs/{queued.json()['job_id']}")
        assert job["status"] == "completed" and job["result"]["completed"] == 2
        latest = api.get(file_scan_path(scanned, first["id"])).json()
        assert (latest["trigger"], latest["max_severity"]) == ("repository", "medium")
        events = api.get("/admin/audit", params={"resource_type": "file", "q": "tool-1.0"}).json()
    scans = [e for e in events if e["action"] == "scan"]
    assert len(scans) == 3 and "completed, 1 findings, max severity medium" in scans[0]["detail"]
    assert {e["action"] for e in events} >= {"queue_file_scan", "scan", "upload_file"}


def test_scanning_off_queues_nothing_and_says_why(scanner: LiveServer, tmp_path: Path) -> None:
    repo = make_repo(scanner)  # policy disabled (the default)
    file = upload(repo, "quiet-1.0-py3-none-any.whl", requiring("quiet", "1.0", "libvuln==1.0"))
    assert file["scan_status"] == "not_scanned"
    with repo.client() as api:
        refused = api.post(file_scan_path(repo, file["id"]), json={})
        assert refused.status_code == 409 and "scan policy" in refused.json()["detail"]
        assert api.get(file_scan_path(repo, file["id"])).status_code == 404
    assert page_files(repo, "quiet") == ["quiet-1.0-py3-none-any.whl"]
    # and with the platform switch off, an enabled policy does nothing either
    with live_server(tmp_path / "off") as server:
        off = make_repo(server)
        set_policy(off, enabled=True, enforcement_mode="block_by_threshold", block_pending=True)
        with off.client() as api:
            assert api.get(f"{off.manage}/scan-policy").json()["platform_scanning_enabled"] is False
            no_index = api.patch(f"{off.manage}/scan-policy", json={"include_public_index": True})  # none configured
            assert no_index.status_code == 422 and no_index.json()["errors"][0]["field"] == "include_public_index"
        file = upload(off, "quiet-1.0-py3-none-any.whl", d.wheel("quiet", "1.0"))
        assert file["scan_status"] == "not_scanned"
        assert page_files(off, "quiet") == ["quiet-1.0-py3-none-any.whl"]
        with off.client() as api:
            refused = api.post(file_scan_path(off, file["id"]), json={})
        assert refused.status_code == 409 and "turned off on this server" in refused.json()["detail"]


@contextmanager
def fake_osv_api(records: Path) -> Iterator[str]:
    port = free_port()
    with helper_server(
        [sys.executable, "-m", "tests.support.fake_osv_api", str(port), str(records)], f"http://127.0.0.1:{port}"
    ) as url:
        yield url


def test_the_online_osv_api_with_no_imported_records(public: Repo, tmp_path: Path) -> None:
    with fake_osv_api(write_directory(tmp_path / "records")) as api_url:
        settings = {"scanning_enabled": "true", "osv_api_url": api_url + "/v1", "outbound_allow_private": "true"}
        with importing_server(public, tmp_path / "data", **settings) as repo:
            set_policy(repo, enabled=True, include_public_index=True)
            file = upload(repo, "web-1.0-py3-none-any.whl", requiring("web", "1.0", "libvuln==1.0"))
            scan = wait_for_scan(repo, file["id"])
        asked = httpx.get(api_url + "/asked").json()
    assert scan["status"] == "completed", scan
    assert [f["id"] for f in scan["findings"]] == ["PYSEC-2024-1", "PYSEC-2024-2"]  # paged, merged, withdrawn out
    assert {(a["package"]["name"], a["version"]) for a in asked} == {("web", "1.0"), ("libvuln", "1.0")}
    assert any("page_token" in a for a in asked)


def test_an_unreachable_osv_api_fails_the_scan(public: Repo, tmp_path: Path) -> None:
    settings = {
        "scanning_enabled": "true",
        "osv_api_url": f"http://127.0.0.1:{free_port()}/v1",
        "outbound_allow_private": "true",
    }
    with importing_server(public, tmp_path / "data", **settings) as repo:
        set_policy(repo, enabled=True)
        file = upload(repo, "lone-1.0-py3-none-any.whl", d.wheel("lone", "1.0"))
        scan = wait_for_scan(repo, file["id"])
    assert scan["status"] == "failed" and "OSV API could not be reached" in scan["error_message"]


BLOCKING = ScanPolicy(
    enabled=True,
    enforcement_mode="block_by_threshold",
    severity_threshold="medium",
    block_pending=True,
    block_failed=True,
)


@pytest.mark.parametrize(
    ("policy", "active", "status", "severity", "blocked"),
    [
        (BLOCKING, True, "pending", None, True),
        (BLOCKING, True, "running", None, True),
        (BLOCKING, True, "failed", None, True),
        (BLOCKING, True, "completed", "low", False),
        (BLOCKING, True, "completed", "medium", True),
        (BLOCKING, True, "completed", "critical", True),
        (BLOCKING, True, "completed", None, False),  # findings nothing rates block nothing
        (BLOCKING, True, "skipped", None, False),
        (BLOCKING, True, "not_scanned", None, False),
        (BLOCKING, False, "completed", "critical", False),  # scanning off: nothing hidden
        (ScanPolicy(enabled=True, block_pending=True, block_failed=True), True, "pending", None, False),  # report_only
        (ScanPolicy(enabled=True, block_pending=True, block_failed=True), True, "completed", "critical", False),
        (ScanPolicy(enabled=True, enforcement_mode="block_by_threshold"), True, "pending", None, False),
        (ScanPolicy(enabled=True, enforcement_mode="block_by_threshold"), True, "failed", None, False),
    ],
)
def test_blocking_decisions(policy: ScanPolicy, active: bool, status: str, severity: str | None, blocked: bool) -> None:
    assert (Enforcement(policy, active).reason(status, severity) is not None) is blocked


def test_a_scan_cut_off_by_a_crash_fails_with_a_reason_after_restart(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers: the scan hangs "running"
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        index = f"http://127.0.0.1:{silent.getsockname()[1]}/simple/"
        settings = {"scanning_enabled": "true", "outbound_allow_private": "true"}
        with live_server(tmp_path / "data", **settings) as server:
            repo = make_repo(server)
            set_policy(
                repo,
                enabled=True,
                include_public_index=True,
                public_index_url=index,
                enforcement_mode="block_by_threshold",
                block_pending=True,
            )
            file = upload(repo, "hang-1.0-py3-none-any.whl", requiring("hang", "1.0", "elsewhere"))
            deadline = time.monotonic() + 20
            with repo.client() as api:
                while api.get(file_scan_path(repo, file["id"])).json()["status"] != "running":
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert page_files(repo, "hang") == []  # block_pending: hidden while the scan runs
            assert server.process is not None
            server.process.kill()
            server.process.wait(10)
        with live_server(tmp_path / "data", admin_key=server.admin_key, **settings) as restarted:
            repo.server = restarted
            with repo.client() as api:
                scan = api.get(file_scan_path(repo, file["id"])).json()
                assert scan["status"] == "failed" and scan["error_message"].startswith("Interrupted")
                set_policy(repo, public_index_url=None, include_public_index=False)
                assert api.post(file_scan_path(repo, file["id"]), json={"trigger": "retry"}).status_code == 202
            retried = wait_for_scan(repo, file["id"])
            assert (
                retried["status"] == "failed" and "no available release satisfies elsewhere" in retried["error_message"]
            )
