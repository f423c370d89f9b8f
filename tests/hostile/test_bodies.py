"""Request bodies from clients who want the server to hold what it will refuse: huge bodies
without credentials, JSON past its bound, bodies that stop arriving, headers that never end."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.appserver import rss_bytes
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow  # real servers, killed and restarted: a scenario, not a unit

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with short timeouts, so slow clients show their effect in seconds."""
    settings = {"body_timeout": "1", "header_timeout": "1"}
    with live_server(tmp_path_factory.mktemp("strict") / "data", **settings) as running:
        yield running


def _chunks(total: int, size: int = MiB) -> Iterator[bytes]:
    block = b"x" * size
    for _ in range(total // size):
        yield block


def test_an_unauthenticated_flood_is_refused_before_it_is_read(strict: LiveServer) -> None:
    assert strict.process is not None
    before = rss_bytes(strict.process.pid)
    status = None
    try:
        response = httpx.post(
            strict.api + "/spaces",
            content=_chunks(300 * MiB),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        status = response.status_code
    except httpx.TransportError:
        pass  # the server answered 401 and closed the connection while we were still sending
    grown = rss_bytes(strict.process.pid) - before
    assert status in (None, 401)
    assert grown < 32 * MiB, f"the server grew by {grown // MiB} MiB"


def test_json_past_its_bound_is_413_with_credentials(strict: LiveServer) -> None:
    with strict.admin() as admin:
        declared = admin.post("/spaces", content=b"{" + b" " * (2 * MiB) + b"}")
        assert declared.status_code == 413 and "too large" in declared.json()["detail"]
        streamed = admin.post("/spaces", content=_chunks(2 * MiB, 64 * 1024))  # no Content-Length
        assert streamed.status_code == 413


def test_a_body_that_stops_arriving_is_408(strict: LiveServer) -> None:
    repo = make_repo(strict)

    def stalling() -> Iterator[bytes]:
        yield b'{"name": '
        time.sleep(3)
        yield b'"late"}'

    with repo.client() as api:
        response = api.post(f"/spaces/{repo.space}/package-repositories", content=stalling())
    assert response.status_code == 408 and "stopped arriving" in response.json()["detail"]


def test_headers_that_never_end_lose_the_connection(strict: LiveServer) -> None:
    port = int(strict.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and then nothing more
        started = time.monotonic()
        assert connection.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 8


def test_a_multipart_boundary_past_its_bound_is_400(repo: Repo) -> None:
    boundary = "b" * 300
    with repo.raw() as http:
        response = http.post(
            repo.legacy,
            content=f"--{boundary}--\r\n".encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert response.status_code == 400 and "boundary" in response.text
