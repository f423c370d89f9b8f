"""Servers for tests: the app in this process (no socket), or ``qarion-pypi serve`` on a loopback
port. Both give the same clients, so a test reads the same whichever it runs against."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.backends import StateReader, environment_for, settings_for
from tests.support.net import free_port, stop_process

API = "/api/v1.0"


@dataclass
class TestServer:
    """What every test server offers: its URL and data, and clients with or without a key."""

    __test__ = False  # not a test class, despite its name

    url: str
    data_dir: Path
    admin_key: str
    _counter: list[int] = field(default_factory=lambda: [0])

    def transport(self) -> httpx.BaseTransport | None:
        """How clients reach the server; None: over the network."""
        return None

    def http(self, *, auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client at the server root, as pip and twine talk to it (following redirects, as they
        do: downloads may be sent to the object store)."""
        return httpx.Client(
            base_url=self.url, auth=auth, headers=headers, timeout=30, transport=self.transport(), follow_redirects=True
        )

    @property
    def api(self) -> str:
        return self.url + API

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=30, transport=self.transport())

    def admin(self) -> httpx.Client:
        return self.client(self.admin_key)

    def unique(self, stem: str) -> str:
        self._counter[0] += 1
        return f"{stem}-{self._counter[0]}"

    # -- direct looks at the stored state, for "nothing was left behind" assertions --

    @property
    def state(self) -> StateReader:
        return StateReader(self.data_dir)

    def table_counts(self) -> dict[str, int]:
        return {
            name: self.state.rows(f"SELECT COUNT(*) FROM {name}")[0][0]
            for name in ("packages", "files", "filename_registry")
        }

    def blobs(self) -> set[str]:
        return self.state.blob_names()

    def snapshot(self) -> tuple[dict[str, int], set[str]]:
        return self.table_counts(), self.blobs()


@dataclass
class LiveServer(TestServer):
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def server_environment(admin_key: str, **settings: Any) -> dict[str, str]:
    """The process environment for a test server: no inherited QARION_PYPI_* settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QARION_PYPI_")}
    environ["PYTHONUNBUFFERED"] = "1"
    environ["QARION_PYPI_ADMIN_KEY"] = admin_key
    environ.setdefault("QARION_PYPI_LOG_LEVEL", "warning")
    for name, value in settings.items():
        environ[f"QARION_PYPI_{name.upper()}"] = str(value)
    return environ


def new_admin_key() -> str:
    return "test-admin-" + secrets.token_hex(16)


def spawn_server(
    data_dir: Path, admin_key: str | None = None, *, args: Sequence[str] = (), **settings: Any
) -> LiveServer:
    """``qarion-pypi serve [args]`` started in a subprocess on a free loopback port, not yet
    waited for; the caller stops it."""
    admin_key = admin_key or new_admin_key()
    port = free_port()
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "qarion_pypi", "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
            env=server_environment(admin_key, **{**settings_for(data_dir), **settings}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return LiveServer(
        url=f"http://127.0.0.1:{port}", data_dir=data_dir, admin_key=admin_key, process=process, log_path=log_path
    )


@contextmanager
def live_server(
    data_dir: Path, admin_key: str | None = None, *, args: Sequence[str] = (), **settings: Any
) -> Iterator[LiveServer]:
    """``qarion-pypi serve [args]`` in a subprocess, as users run it, on a free loopback port.

    Pass the ``admin_key`` of an earlier run to restart a server on the same data dir."""
    running = spawn_server(data_dir, admin_key, args=args, **settings)
    try:
        wait_until_serving(running)
        yield running
    finally:
        running.stop()


def wait_until_serving(server: LiveServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"test server exited with {server.process.returncode}")
        try:
            httpx.get(server.api + "/me", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("test server did not start in time")


@contextmanager
def worker_process(data_dir: Path, **settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """``qarion-pypi worker`` in a subprocess, once it takes jobs; stopped with SIGTERM after."""
    log_path = data_dir.parent / f"{data_dir.name}-worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "qarion_pypi", "worker", "--data-dir", str(data_dir)],
            env=server_environment(new_admin_key(), **{**settings_for(data_dir), **settings}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while b"taking jobs" not in log_path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start: {log_path.read_text()}")
                time.sleep(0.05)
            yield process
        finally:
            stop_process(process)


# ``qarion-pypi`` with arguments, answering like a finished process (the ``command`` fixture).
Command = Callable[..., subprocess.CompletedProcess[str]]


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``qarion-pypi`` as a command, with a clean environment unless one is given (either way on
    the test backend of its ``--data-dir``)."""
    environ = server_environment("unused-admin-key-000000") if env is None else env
    environ = {**backend_environment(args), **environ}
    return subprocess.run(
        [sys.executable, "-m", "qarion_pypi", *map(str, args)], env=environ, capture_output=True, text=True, timeout=60
    )


def backend_environment(args: tuple[str | Path, ...] | list[str | Path]) -> dict[str, str]:
    """The test backend's variables for the data dir a command line names, if it names one."""
    words = [str(arg) for arg in args]
    if "--data-dir" not in words[:-1]:
        return {}
    return environment_for(Path(words[words.index("--data-dir") + 1]))


@dataclass
class Repo:
    """A space and a space-wide repository made for one test, with keys for each role."""

    server: TestServer
    space: str
    slug: str
    id: str
    keys: dict[str, str]

    @property
    def simple(self) -> str:
        return f"{API}/pypi/spaces/{self.space}/repositories/{self.slug}/simple/"

    @property
    def legacy(self) -> str:
        return f"{API}/pypi/spaces/{self.space}/repositories/{self.slug}/legacy/"

    @property
    def manage(self) -> str:
        return f"/spaces/{self.space}/package-repositories/{self.id}"

    def index_url(self, role: str = "admin") -> str:
        host = self.server.url.removeprefix("http://")
        return f"http://__token__:{self.keys[role]}@{host}{self.simple}"

    def client(self, role: str = "admin") -> httpx.Client:
        return self.server.client(self.keys[role])

    def raw(self, role: str | None = "admin") -> httpx.Client:
        """A client at the server root with Basic __token__ auth, as pip and twine send it."""
        return self.server.http(auth=("__token__", self.keys[role]) if role else None)

    def upload(self, filename: str, content: bytes, role: str = "admin", **fields: str) -> httpx.Response:
        form = {":action": "file_upload", "protocol_version": "1", **fields}
        with self.raw(role) as http:
            return http.post(self.legacy, data=form, files={"content": (filename, content, "application/octet-stream")})


ROLES = ("viewer", "member", "editor", "admin")


def make_repo(server: TestServer) -> Repo:
    space = server.unique("space")
    with server.admin() as admin:
        admin.post("/spaces", json={"name": space, "slug": space}).raise_for_status()
        created = admin.post(f"/spaces/{space}/package-repositories", json={"name": "Repo", "slug": "repo"})
        created.raise_for_status()
        keys = {"platform": server.admin_key}
        for role in ROLES:
            username = server.unique(role)
            admin.post("/users", json={"username": username}).raise_for_status()
            admin.put(f"/spaces/{space}/members/{username}", json={"role": role}).raise_for_status()
            keys[role] = admin.post(f"/users/{username}/api-keys", json={"name": "t"}).json()["key"]
        outsider = server.unique("outsider")
        admin.post("/users", json={"username": outsider}).raise_for_status()
        keys["outsider"] = admin.post(f"/users/{outsider}/api-keys", json={"name": "t"}).json()["key"]
    return Repo(server=server, space=space, slug="repo", id=created.json()["id"], keys=keys)


@contextmanager
def helper_server(command: list[str], url: str) -> Iterator[str]:
    """A helper process serving HTTP at ``url`` (polled until it answers, bounded), stopped after."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        stop_process(process)


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """``python -m http.server`` over ``root``: a plain HTTP upstream (no ranges, no JSON)."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)]
    with helper_server(command, f"http://127.0.0.1:{port}/") as url:
        yield url


def wait_for_job(client: httpx.Client, path: str, timeout: float = 20) -> dict[str, Any]:
    """Poll a job status URL until the job completes or fails (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(path).json()
        if status["status"] in ("completed", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job at {path} did not finish in {timeout} s")


@contextmanager
def importing_server(upstream: Repo, data_dir: Path, **settings: Any) -> Iterator[Repo]:
    """A server whose configured upstream is ``upstream`` (a loopback host, allowed because it is
    the configured upstream), with its viewer key in a netrc file, and a fresh repository."""
    netrc = data_dir.parent / f"{data_dir.name}-netrc"
    netrc.write_text(f"machine 127.0.0.1 login __token__ password {upstream.keys['viewer']}\n")
    index = upstream.server.url + upstream.simple
    with live_server(data_dir, upstream_index_url=index, upstream_netrc=str(netrc), **settings) as server:
        yield make_repo(server)
