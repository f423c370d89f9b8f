"""Client set-ups beyond one index: two private indexes with a key each, used together by pip and
uv (credentials go by index, so every file lives under its index's root), and sdists whose
PKG-INFO resolvers may or may not trust (PEP 643)."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.clients import Clients
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("setups") / "data", log_level="info") as running:
        yield running


@pytest.fixture(scope="module")
def two(logged: LiveServer) -> tuple[Repo, Repo]:
    """Two spaces, a repository in each; each viewer key sees only its own. ``beta`` (in B)
    needs ``alpha`` (in A)."""
    first, second = make_repo(logged), make_repo(logged)
    assert first.upload("alpha-1.0-py3-none-any.whl", d.wheel("alpha", "1.0")).status_code == 200
    beta = d.wheel("beta", "1.0", meta=d.metadata("beta", "1.0", extra="Requires-Dist: alpha>=1\n"))
    assert second.upload("beta-1.0-py3-none-any.whl", beta).status_code == 200
    with first.raw("viewer") as http:
        assert http.get(second.simple).status_code == 404  # the keys really are per index
    return first, second


def _log_since(server: LiveServer, start: int) -> str:
    assert server.log_path is not None
    return server.log_path.read_bytes()[start:].decode()


def _log_size(server: LiveServer) -> int:
    assert server.log_path is not None
    return server.log_path.stat().st_size


def _refused_files(log: str) -> list[str]:
    """File requests that were answered 401 or 404 (a key sent to the wrong index, or none)."""
    return re.findall(r'"GET (\S*/files/\S*) HTTP/1.1" 40[14]', log)


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a"])
def test_pip_download_with_both_indexes(two: tuple[Repo, Repo], logged: LiveServer, tmp_path: Path, order: str) -> None:
    first, second = two if order == "a-then-b" else reversed(two)
    start = _log_size(logged)
    Clients(tmp_path / "home").pip(
        "download", "--no-cache-dir", "--dest", tmp_path / "dl", "--index-url", first.index_url("viewer"),
        "--extra-index-url", second.index_url("viewer"), "beta",
    )  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [
        "alpha-1.0-py3-none-any.whl",
        "beta-1.0-py3-none-any.whl",
    ]
    assert _refused_files(_log_since(logged, start)) == []


def test_uv_pip_install_with_both_indexes(two: tuple[Repo, Repo], logged: LiveServer, tmp_path: Path) -> None:
    first, second = two
    start = _log_size(logged)
    Clients(tmp_path / "home").uv(
        "pip", "install", "--no-cache", "--python", sys.executable, "--target", tmp_path / "t",
        "--index-url", first.index_url("viewer"), "--extra-index-url", second.index_url("viewer"), "beta",
    )  # fmt: skip
    assert {p.name for p in (tmp_path / "t").glob("*.dist-info")} == {"alpha-1.0.dist-info", "beta-1.0.dist-info"}
    assert _refused_files(_log_since(logged, start)) == []


def test_uv_lock_and_sync_with_named_indexes(two: tuple[Repo, Repo], logged: LiveServer, tmp_path: Path) -> None:
    """``[[tool.uv.index]]`` entries with ``UV_INDEX_<NAME>_*`` credentials, as the README shows."""
    first, second = two
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "consumer"
            version = "0.1"
            requires-python = ">=3.11"
            dependencies = ["beta"]

            [[tool.uv.index]]
            name = "team-a"
            url = "{first.server.url}{first.simple}"
            default = true

            [[tool.uv.index]]
            name = "team-b"
            url = "{second.server.url}{second.simple}"
            """
        )
    )
    credentials = {
        "UV_INDEX_TEAM_A_USERNAME": "__token__",
        "UV_INDEX_TEAM_A_PASSWORD": first.keys["viewer"],
        "UV_INDEX_TEAM_B_USERNAME": "__token__",
        "UV_INDEX_TEAM_B_PASSWORD": second.keys["viewer"],
    }
    clients = Clients(tmp_path / "home", extra_env=credentials, uv_project_config=True)
    start = _log_size(logged)
    clients.uv("lock", "--directory", project, "--python", sys.executable)
    lock = (project / "uv.lock").read_text()
    assert 'name = "alpha"' in lock and 'name = "beta"' in lock
    clients.uv("sync", "--directory", project, "--python", sys.executable, "--no-cache")
    site = next((project / ".venv").glob("lib/python*/site-packages"))
    assert {p.name for p in site.glob("*.dist-info")} >= {"alpha-1.0.dist-info", "beta-1.0.dist-info"}
    log = _log_since(logged, start)
    assert _refused_files(log) == []
    assert "/files/" in log  # the files came from under each index's own root


def _setup_py_sdist(name: str, metadata_version: str, pkg_info_extra: str, install_requires: list[str]) -> bytes:
    """An sdist built by hand: setup.py declares the dependencies, PKG-INFO says what it says."""
    top = f"{name}-1.0"
    setup = (
        f"from setuptools import setup\nsetup(name={name!r}, version='1.0', install_requires={install_requires!r})\n"
    )
    meta = d.metadata(name, "1.0", metadata_version=metadata_version, extra=pkg_info_extra)
    return d.tar_gz_bytes({f"{top}/PKG-INFO": meta, f"{top}/setup.py": setup.encode()})


@pytest.mark.parametrize(
    ("name", "metadata_version", "pkg_info_extra", "offered"),
    [
        ("legacyapp", "2.1", "", False),  # dependencies only in setup.py
        ("dynamicapp", "2.2", "Dynamic: Requires-Dist\n", False),
        ("staticapp", "2.2", "Requires-Dist: {dep}\n", True),
    ],
)
def test_pip_installs_what_an_sdist_really_needs(
    logged: LiveServer, tmp_path: Path, name: str, metadata_version: str, pkg_info_extra: str, offered: bool
) -> None:
    repo = make_repo(logged)
    dep = f"{name}-dep"
    assert repo.upload(f"{dep.replace('-', '_')}-1.0-py3-none-any.whl", d.wheel(dep, "1.0")).status_code == 200
    sdist = _setup_py_sdist(name, metadata_version, pkg_info_extra.format(dep=dep), [dep])
    assert repo.upload(f"{name}-1.0.tar.gz", sdist).status_code == 200
    with repo.raw("viewer") as http:
        (entry,) = http.get(f"{repo.simple}{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()[
            "files"
        ]
    assert bool(entry["core-metadata"]) is offered
    Clients(tmp_path / "home").pip(
        "install", "--no-cache-dir", "--no-build-isolation", "--target", tmp_path / "t",
        "--index-url", repo.index_url("viewer"), name,
    )  # fmt: skip
    installed = {p.name for p in (tmp_path / "t").glob("*.dist-info")}
    assert f"{dep.replace('-', '_')}-1.0.dist-info" in installed and f"{name}-1.0.dist-info" in installed


def test_twine_at_the_repository_root_and_twine_register(live: LiveServer, tmp_path: Path) -> None:
    repo = make_repo(live)
    wheel = tmp_path / "rooted-1.0-py3-none-any.whl"
    wheel.write_bytes(d.wheel("rooted", "1.0"))
    clients = Clients(tmp_path / "home")
    root_url = live.url + repo.legacy.removesuffix("legacy/")
    clients.twine_upload(root_url, repo.keys["member"], wheel)  # the CodeScoring seed's shape
    with repo.client() as api:
        assert api.get(f"{repo.manage}/packages/rooted").status_code == 200
    options = ("--repository-url", live.url + repo.legacy, "-u", "__token__", "-p", repo.keys["member"])
    registered = clients.twine("register", *options, wheel, check=False)
    assert registered.returncode != 0
    assert "410" in registered.stdout + registered.stderr
