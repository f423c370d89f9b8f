"""SIGTERM while requests are in flight: the server finishes what it can, waits no longer than
its shutdown timeout for the rest, and exits; what was confirmed stays."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo, live_server, make_repo

pytestmark = pytest.mark.slow  # real servers, killed and restarted: a scenario, not a unit


def _trickle(repo: Repo, stop: threading.Event) -> None:
    def body() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="content"; filename="slow-1.0-py3-none-any.whl"\r\n\r\n'
        while not stop.is_set():
            yield b"\0" * 1024
            time.sleep(0.1)

    try:
        with repo.raw() as http:
            http.post(repo.legacy, content=body(), headers={"Content-Type": "multipart/form-data; boundary=x"})
    except httpx.TransportError:
        pass


def test_sigterm_under_load_ends_within_the_shutdown_timeout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data, shutdown_timeout="2", body_timeout="60") as server:
        repo = make_repo(server)
        stop = threading.Event()
        slow = threading.Thread(target=_trickle, args=(repo, stop))
        slow.start()

        def upload(index: int) -> int | None:
            try:
                return repo.upload(f"term{index}-1.0-py3-none-any.whl", d.wheel(f"term{index}")).status_code
            except httpx.TransportError:
                return None

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = pool.map(upload, range(40))
            time.sleep(0.3)
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            server.process.wait(30)
            waited = time.monotonic() - started
            statuses = list(results)
        stop.set()
        slow.join(30)
        assert waited < 10, f"the server took {waited:.1f} s to stop"
        assert server.process.returncode is not None
        confirmed = {f"term{i}" for i, status in enumerate(statuses) if status == 200}
        admin_key = server.admin_key
    with live_server(data, admin_key=admin_key) as restarted:
        again = Repo(restarted, repo.space, repo.slug, repo.id, repo.keys)
        with again.client() as api:
            names = {p["normalized_name"] for p in api.get(f"{repo.manage}/packages").json()}
    assert confirmed <= names
