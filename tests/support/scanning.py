"""Helpers for tests of scanning: policies, uploads through the management API, scan results."""

from __future__ import annotations

import time
from typing import Any

from tests.support import distbuilder as d
from tests.support.harness import Repo

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def requiring(name: str, version: str, *requirements: str) -> bytes:
    extra = "".join(f"Requires-Dist: {r}\n" for r in requirements)
    return d.wheel(name, version, meta=d.metadata(name, version, extra=extra))


def upload(repo: Repo, filename: str, content: bytes) -> dict[str, Any]:
    with repo.client() as api:
        response = api.post(f"{repo.manage}/files", files={"file": (filename, content)})
    assert response.status_code == 201, response.text
    return dict(response.json()["file"])


def file_scan_path(repo: Repo, file_id: str) -> str:
    return f"/spaces/{repo.space}/package-repositories/files/{file_id}/scan"


def wait_for_scan(repo: Repo, file_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with repo.client() as api:
        while time.monotonic() < deadline:
            scan: dict[str, Any] = api.get(file_scan_path(repo, file_id)).json()
            if scan["status"] in ("completed", "failed", "skipped"):
                return scan
            time.sleep(0.05)
    raise AssertionError(f"the scan of {file_id} did not finish in {timeout} s")


def page_files(repo: Repo, project: str) -> list[str]:
    with repo.raw("viewer") as http:
        response = http.get(f"{repo.simple}{project}/", headers=JSON)
    assert response.status_code == 200
    return [f["filename"] for f in response.json()["files"]]


def set_policy(repo: Repo, **changes: Any) -> dict[str, Any]:
    with repo.client() as api:
        response = api.patch(f"{repo.manage}/scan-policy", json=changes)
    assert response.status_code == 200, response.text
    return dict(response.json())
