"""The real clients against a real server: twine uploads, pip and uv install, pypi-simple reads."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

from tests.support.clients import Clients, make_project
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def logged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Access logs on: the PEP 658 test reads which URLs uv fetched.
    with live_server(tmp_path_factory.mktemp("e2e") / "data", metrics_enabled="true") as running:
        yield running


@pytest.fixture(scope="module")
def world(logged_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """alpha 1.0 (wheel + sdist) and 2.0 (wheel), beta 1.0 needing alpha>=1; all uploaded by twine."""
    root = tmp_path_factory.mktemp("projects")
    clients = Clients(root / "home")
    repo = make_repo(logged_server)
    dists: list[Path] = []
    for name, version, deps in (("alpha", "1.0", ()), ("alpha", "2.0", ()), ("beta", "1.0", ("alpha>=1.0",))):
        dists += clients.build(make_project(root, name, version, dependencies=deps), root / "dist")
    upload = clients.twine_upload(repo.server.url + repo.legacy, repo.keys["member"], *dists)
    return {"repo": repo, "clients": clients, "root": root, "dists": dists, "upload": upload}


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


def test_twine_uploaded_wheels_and_sdists(world: dict) -> None:
    repo: Repo = world["repo"]
    with repo.client() as api:
        alpha = api.get(f"{repo.manage}/packages/alpha").json()
    assert sorted(f["filename"] for f in alpha["files"]) == [
        "alpha-1.0-py3-none-any.whl",
        "alpha-1.0.tar.gz",
        "alpha-2.0-py3-none-any.whl",
        "alpha-2.0.tar.gz",
    ]
    assert alpha["summary"] == "The alpha test package"


def test_twine_reupload_of_identical_files_succeeds(world: dict) -> None:
    repo: Repo = world["repo"]
    clients: Clients = world["clients"]
    again = clients.twine_upload(repo.server.url + repo.legacy, repo.keys["member"], *world["dists"])
    assert again.returncode == 0


def test_twine_skip_existing_skips_changed_bytes(world: dict, tmp_path: Path) -> None:
    repo: Repo = world["repo"]
    clients: Clients = world["clients"]
    rebuilt = clients.build(make_project(tmp_path, "alpha", "1.0", extra_file="CHANGED = True\n"), tmp_path / "dist")
    url, key = repo.server.url + repo.legacy, repo.keys["member"]
    # ASGI has no custom reason phrases, so twine shows the server's message with --verbose.
    refused = clients.twine_upload(url, key, "--verbose", *rebuilt, check=False)
    assert refused.returncode != 0
    assert "File already exists" in refused.stdout + refused.stderr
    skipped = clients.twine_upload(url, key, "--skip-existing", *rebuilt)
    assert "Skipping alpha-1.0" in skipped.stdout + skipped.stderr


def test_pip_installs_and_skips_yanked_unless_pinned(world: dict, tmp_path: Path) -> None:
    repo: Repo = world["repo"]
    clients: Clients = world["clients"]
    install = ("install", "--no-cache-dir", "--index-url", repo.index_url("viewer"), "--target")
    clients.pip(*install, tmp_path / "latest", "beta")
    assert _installed(tmp_path / "latest") == {"alpha-2.0.dist-info", "beta-1.0.dist-info"}
    with repo.client("editor") as api:
        files = api.get(f"{repo.manage}/packages/alpha").json()["files"]
        for file in files:
            if file["version"] == "2.0":
                api.patch(
                    f"/spaces/{repo.space}/package-repositories/files/{file['id']}/yank",
                    json={"yanked": True, "reason": "broken"},
                ).raise_for_status()
    try:
        clients.pip(*install, tmp_path / "after-yank", "alpha")
        assert _installed(tmp_path / "after-yank") == {"alpha-1.0.dist-info"}
        pinned = clients.pip(*install, tmp_path / "pinned", "alpha==2.0")
        assert _installed(tmp_path / "pinned") == {"alpha-2.0.dist-info"}
        assert "yanked" in (pinned.stdout + pinned.stderr).lower()
    finally:
        with repo.client("editor") as api:
            for file in files:
                api.patch(f"/spaces/{repo.space}/package-repositories/files/{file['id']}/yank", json={"yanked": False})


def test_uv_installs_with_credentials_in_the_index_url(world: dict, tmp_path: Path) -> None:
    repo: Repo = world["repo"]
    clients: Clients = world["clients"]
    import sys

    clients.uv(
        "pip",
        "install",
        "--no-cache",
        "--python",
        sys.executable,
        "--index-url",
        repo.index_url("viewer"),
        "--target",
        tmp_path / "uv",
        "beta",
    )
    assert _installed(tmp_path / "uv") == {"alpha-2.0.dist-info", "beta-1.0.dist-info"}


def test_uv_resolves_from_pep658_metadata_without_downloading(world: dict, tmp_path: Path) -> None:
    repo: Repo = world["repo"]
    clients: Clients = world["clients"]
    assert isinstance(repo.server, LiveServer)
    before = _downloads(repo.server)
    (tmp_path / "requirements.in").write_text("beta\n")
    compiled = clients.uv(
        "pip",
        "compile",
        "--no-cache",
        "--index-url",
        repo.index_url("viewer"),
        tmp_path / "requirements.in",
        "--python-version",
        "3.11",
    )
    assert "alpha==2.0" in compiled.stdout and "beta==1.0" in compiled.stdout
    after = _downloads(repo.server)  # the server's own counts (/metrics): core metadata, no file
    assert after["metadata"] > before["metadata"] and after["file"] == before["file"], (before, after)


def _downloads(server: LiveServer) -> dict[str, float]:
    with httpx.Client(base_url=server.url) as http:
        text = http.get("/metrics").text
    counts = {"file": 0.0, "metadata": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "qarion_downloads_total":
                counts[sample.labels["kind"]] = sample.value
    return counts


def test_pip_download_checks_hashes(world: dict, tmp_path: Path) -> None:
    repo: Repo = world["repo"]
    clients: Clients = world["clients"]
    wheel = next(p for p in world["dists"] if p.name == "alpha-1.0-py3-none-any.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()

    def download(name: str, pinned: str) -> subprocess.CompletedProcess[str]:
        requirements = tmp_path / f"{name}.txt"
        requirements.write_text(f"alpha==1.0 --hash=sha256:{pinned}\n")
        return clients.pip("download", "--no-cache-dir", "--no-deps", "--only-binary=:all:", "--index-url",
                           repo.index_url(), "-d", tmp_path / name, "-r", requirements, check=False)  # fmt: skip

    assert download("good", digest).returncode == 0
    assert (tmp_path / "good" / wheel.name).read_bytes() == wheel.read_bytes()
    refused = download("bad", "0" * 64)
    assert refused.returncode != 0 and "HASHES" in refused.stderr.upper()


@pytest.mark.parametrize("accept", [ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY], ids=["html", "json"])
def test_pypi_simple_parses_both_formats(world: dict, accept: str) -> None:
    repo: Repo = world["repo"]
    endpoint = repo.server.url + repo.simple
    with PyPISimple(endpoint=endpoint, auth=("__token__", repo.keys["viewer"]), accept=accept) as client:
        index = client.get_index_page()
        assert sorted(index.projects) == ["alpha", "beta"]
        page = client.get_project_page("alpha")
        by_name = {p.filename: p for p in page.packages}
        wheel = by_name["alpha-1.0-py3-none-any.whl"]
        assert wheel.requires_python == ">=3.8"
        assert wheel.has_metadata is True
        assert wheel.digests["sha256"]
        assert wheel.version == "1.0" and wheel.package_type == "wheel"
        assert client.get_package_metadata(wheel).startswith("Metadata-Version")
        if accept == ACCEPT_JSON_ONLY:
            assert page.versions == ["1.0", "2.0"]
