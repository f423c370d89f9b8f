"""The management API's OpenAPI document, and schemathesis finding no server error against it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.harness import LiveServer, TestServer, live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Its own server: schemathesis creates and deletes whatever the schema lets it.
    with live_server(tmp_path_factory.mktemp("fuzz") / "data") as running:
        yield running


def test_the_document_lists_every_management_endpoint(server: TestServer) -> None:
    with server.client() as anonymous:
        document = anonymous.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert "/api/v1.0/spaces/{slug}/package-repositories/project-scopes/{project_scope_id}/access" in paths
    assert set(paths["/api/v1.0/spaces/{slug}/package-repositories/{repository_id}"]) == {"get", "patch", "delete"}
    create = paths["/api/v1.0/spaces/{slug}/package-repositories"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"]["additionalProperties"] is False
    assert create["schema"]["required"] == ["name"]
    upload = paths["/api/v1.0/spaces/{slug}/package-repositories/{repository_id}/files"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]


def test_schemathesis_finds_no_server_error(fuzzed_server: LiveServer, tmp_path: Path) -> None:
    with fuzzed_server.admin() as admin:
        admin.post("/spaces", json={"name": "Acme", "slug": "acme"}).raise_for_status()
        repo = admin.post("/spaces/acme/package-repositories", json={"name": "Tools"}).json()
        scope = admin.post("/spaces/acme/package-repositories/project-scopes", json={"name": "Pipes"}).json()
        admin.post("/teams", json={"name": "Builders", "slug": "builders"}).raise_for_status()
        file = admin.post(
            f"/spaces/acme/package-repositories/{repo['id']}/files",
            files={"file": ("demo-1.0-py3-none-any.whl", d.wheel())},
        ).json()["file"]
    # Real identifiers, so that operations reach their logic instead of stopping at 404.
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        '"path.slug" = "acme"\n'
        f'"path.repository_id" = "{repo["id"]}"\n'
        f'"path.project_scope_id" = "{scope["id"]}"\n'
        f'"path.file_id" = "{file["id"]}"\n'
        '"path.team" = "builders"\n'
        '"path.username" = "admin"\n'
        '"path.package_name" = "demo"\n'
    )
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is part of the test extra"
    result = subprocess.run(
        [executable, "--config-file", str(config), "run", fuzzed_server.api + "/openapi.json",
         "--checks", "not_a_server_error", "--header", f"Authorization: Bearer {fuzzed_server.admin_key}",
         "--max-examples", "25", "--seed", "20261121"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    log = fuzzed_server.data_dir.parent / f"{fuzzed_server.data_dir.name}-server.log"
    assert "Traceback" not in log.read_text()
