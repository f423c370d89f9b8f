"""Fixtures every test module may use: servers (in this process, or live on a socket) and repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from qarion_pypi.app import build_context, open_context
from qarion_pypi.cli import main
from qarion_pypi.config import load_settings
from qarion_pypi.context import Context
from tests.fakes.blobs import MemoryBlobStore
from tests.support import backends
from tests.support.backends import settings_for
from tests.support.harness import Command, LiveServer, Repo, backend_environment, live_server, make_repo
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.oidc_issuer import Issuer, oidc_issuer

# Small enough that a "too large" upload is cheap to send; large enough for every other test.
TEST_MAX_UPLOAD = 8 * 1024 * 1024


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("backend")
        if marker is not None and marker.args[0] != backends.BACKEND:
            reason = f"about the {marker.args[0]} backend; this run is on {backends.BACKEND} (QARION_TEST_BACKEND)"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop the server runs on (uvloop is asyncio too)."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def backend_services() -> Iterator[None]:
    """The test backend's shared services (QARION_TEST_BACKEND), removed when the session ends."""
    yield from backends.sessions()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """The app in this process, shared by the session: for everything a socket adds nothing to."""
    with inprocess_server(tmp_path_factory.mktemp("server") / "data", max_upload_bytes=TEST_MAX_UPLOAD) as running:
        yield running


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``qarion-pypi serve`` on a loopback port, shared by the session: for other processes to reach."""
    with live_server(tmp_path_factory.mktemp("live") / "data", max_upload_bytes=TEST_MAX_UPLOAD) as running:
        yield running


@pytest.fixture
def repo(server: InProcessServer) -> Repo:
    return make_repo(server)


@pytest.fixture
def live_repo(live: LiveServer) -> Repo:
    return make_repo(live)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Command:
    """``qarion-pypi`` run in this process, with no inherited settings: ``command(*args, env=...)``."""
    for name in os.environ:
        if name.startswith("QARION_PYPI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QARION_PYPI_ADMIN_KEY", "unused-admin-key-000000")

    def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        with monkeypatch.context() as scoped:
            for name, value in {**backend_environment(args), **(env or {})}.items():
                scoped.setenv(name, value)
            capsys.readouterr()
            code = main([str(arg) for arg in args])
            out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return run


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Context]:
    """The services' context on a fresh database of the test backend, with blobs in memory and no
    running queue."""
    settings = load_settings(overrides={"data_dir": tmp_path / "data", **settings_for(tmp_path / "data")}, environ={})
    context = build_context(settings)
    context.blobs = MemoryBlobStore(tmp_path / "staging")
    await open_context(context)
    yield context
    await context.db.disconnect()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """An OIDC issuer on loopback (discovery document, JWKS) that mints CI-shaped tokens."""
    with oidc_issuer() as running:
        yield running
