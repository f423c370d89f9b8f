"""``qarion-pypi serve --workers 2``: two processes on one port, each with its own hot-path memo
and page cache, behave as one server. Every check below is made over fresh connections (the
kernel spreads them over the workers), and each test first sees both workers answer."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from qarion_pypi.cli.workers import STARTUP_SECONDS
from tests.support.backends import StateReader
from tests.support.distbuilder import wheel
from tests.support.harness import LiveServer, Repo, cli, live_server, make_repo

_REQUEST = re.compile(r"\[(\d+)\] qarion_pypi\.requests: .*route=(\S+) status=(\d+)")
ATTEMPTS = 60  # fresh connections tried before giving up on reaching both workers


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("workers") / "data"
    with live_server(data_dir, args=("--workers", "2"), log_level="info") as server:
        yield server


@pytest.fixture
def repo(two_workers: LiveServer) -> Repo:
    return make_repo(two_workers)


def _log_size(server: LiveServer) -> int:
    assert server.log_path is not None
    return server.log_path.stat().st_size


def _answering_pids(server: LiveServer, route_part: str, since: int = 0) -> set[str]:
    """The workers whose request log lines (after byte ``since``) name a route with ``route_part``."""
    assert server.log_path is not None
    with open(server.log_path, "rb") as log:
        log.seek(since)
        found = _REQUEST.findall(log.read().decode())
    return {pid for pid, route, _ in found if route_part in route}


def _on_fresh_connections(server: LiveServer, request: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    """The request made once per new connection until both workers have answered it (so the
    check is made on each); the statuses seen."""
    since, statuses = _log_size(server), []
    for _ in range(ATTEMPTS):
        with server.http() as http:
            statuses.append(request(http).status_code)
        if len(statuses) >= 4 and len(_answering_pids(server, "", since)) >= 2:
            return statuses
    pytest.fail("the kernel never handed one of these connections to the second worker")


def test_both_workers_answer(two_workers: LiveServer, repo: Repo) -> None:
    seen = set()
    for _ in range(ATTEMPTS):
        with two_workers.http(auth=("__token__", repo.keys["viewer"])) as http:
            assert http.get(repo.simple).status_code == 200
        seen = _answering_pids(two_workers, "/simple/")
        if len(seen) == 2:
            break
    assert len(seen) == 2, "the kernel never handed a connection to the second worker"


def test_a_revoked_key_fails_on_every_worker_at_once(two_workers: LiveServer, repo: Repo) -> None:
    with two_workers.admin() as admin:
        user = two_workers.unique("robot")
        admin.post("/users", json={"username": user}).raise_for_status()
        admin.put(f"/spaces/{repo.space}/members/{user}", json={"role": "viewer"}).raise_for_status()
        issued = admin.post(f"/users/{user}/api-keys", json={"name": "ci"}).json()

    def read(http: httpx.Client) -> httpx.Response:
        return http.get(repo.simple, auth=("__token__", issued["key"]))

    assert set(_on_fresh_connections(two_workers, read)) == {200}  # remembered by both workers
    with two_workers.admin() as admin:
        admin.delete(f"/users/{user}/api-keys/{issued['id']}").raise_for_status()
    assert set(_on_fresh_connections(two_workers, read)) == {401}


def test_a_new_upload_is_on_every_worker_s_page_at_once(two_workers: LiveServer, repo: Repo) -> None:
    assert repo.upload("demo-1.0-py3-none-any.whl", wheel("demo", "1.0")).status_code == 200

    def page(http: httpx.Client) -> httpx.Response:
        response = http.get(repo.simple + "demo/", auth=("__token__", repo.keys["viewer"]))
        return response if "demo-2.0-py3-none-any.whl" in response.text else httpx.Response(409)

    assert set(_on_fresh_connections(two_workers, page)) == {409}  # cached without 2.0 on both
    assert repo.upload("demo-2.0-py3-none-any.whl", wheel("demo", "2.0")).status_code == 200
    assert set(_on_fresh_connections(two_workers, page)) == {200}


def _race(repo: Repo, filename: str, contents: list[bytes]) -> list[int]:
    """Every content uploaded as ``filename`` at the same moment, one thread each."""
    statuses: list[int] = []
    start = threading.Barrier(len(contents))

    def upload(content: bytes) -> None:
        start.wait()
        statuses.append(repo.upload(filename, content).status_code)

    threads = [threading.Thread(target=upload, args=(content,)) for content in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def test_concurrent_uploads_of_one_filename_through_both_workers_have_one_winner(
    two_workers: LiveServer, repo: Repo
) -> None:
    state = StateReader(two_workers.data_dir)
    for round_number in range(5):
        since = _log_size(two_workers)
        filename = f"race-{round_number}.0-py3-none-any.whl"
        contents = [wheel("race", f"{round_number}.0", salt=str(n)) for n in range(8)]
        statuses = _race(repo, filename, contents)
        assert sorted(statuses) == [200] + [400] * 7, statuses  # one winner, clear refusals
        rows = state.rows("SELECT sha256 FROM files WHERE filename = ?", filename)
        assert len(rows) == 1
        losers = {hashlib.sha256(c).hexdigest() for c in contents} - {rows[0][0]}
        stored = {name.rsplit("/", 1)[-1] for name in state.blob_names()}
        assert rows[0][0] in stored and not losers & stored  # the losers' placed blobs were released
        assert state.rows("SELECT count(*) FROM blob_claims") == [(0,)]
        if len(_answering_pids(two_workers, "/legacy/", since)) == 2:
            return
    pytest.fail("the uploads never reached both workers")


def test_the_workers_log_their_process_ids(two_workers: LiveServer) -> None:
    assert two_workers.log_path is not None
    log = Path(two_workers.log_path).read_text()
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == 2


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = cli("serve", "--workers", "2", "--port", port, "--data-dir", tmp_path / "data")
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


@pytest.mark.slow  # a worker must outlive the start-up window (10 s) before it is killed
def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", args=("--workers", "2"), log_level="info") as server:
        repo = make_repo(server)
        assert server.log_path is not None
        started: list[str] = []
        deadline = time.monotonic() + 30  # the port answers once the first worker is up
        while time.monotonic() < deadline and len(started) < 2:
            started = re.findall(r"Started server process \[(\d+)\]", server.log_path.read_text())
            time.sleep(0.1)
        assert len(started) == 2, "the second worker never started"
        time.sleep(STARTUP_SECONDS + 0.5)  # younger, its death would count as a failed start
        victim = int(started[0])
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        replacement: set[str] = set()
        while time.monotonic() < deadline and not replacement:
            time.sleep(0.2)
            log = server.log_path.read_text()
            replacement = set(re.findall(r"Started server process \[(\d+)\]", log)) - set(started)
        assert replacement, "no worker was started in place of the killed one"
        assert f"worker {victim} exited with -9; starting another" in log
        # The new worker answers, with the same data as the survivor.
        since = _log_size(server)
        for _ in range(ATTEMPTS):
            with server.http(auth=("__token__", repo.keys["viewer"])) as http:
                assert http.get(repo.simple).status_code == 200
            if replacement & _answering_pids(server, "/simple/", since):
                break
        else:
            pytest.fail("the replacement worker never answered")
        assert str(victim) not in _answering_pids(server, "/simple/", since)
