from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import LiveServer, Repo, live_server, make_repo

# Small enough that a "too large" upload is cheap to send; large enough for every other test.
TEST_MAX_UPLOAD = 8 * 1024 * 1024


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop the server runs on (uvloop is asyncio too)."""
    return "asyncio"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("server") / "data", max_upload_bytes=TEST_MAX_UPLOAD) as running:
        yield running


@pytest.fixture
def repo(server: LiveServer) -> Repo:
    return make_repo(server)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
