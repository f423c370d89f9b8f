"""``serve --workers N``: N server processes on one port, and the supervisor that keeps them.

Each worker binds its own listening socket with ``SO_REUSEPORT``, so the kernel spreads new
connections over the processes. (With one shared socket, whichever process wakes first accepts a
whole burst of connections, and keep-alive clients then stay on it.) A worker that dies is
replaced; one that dies while starting stops them all, since its siblings would fail alike.
Workers share nothing but the database and the blob store, which hold all the state there is.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from qarion_pypi.config import Settings, load_settings

log = logging.getLogger("qarion_pypi.workers")
STARTUP_SECONDS = 10.0  # a worker gone sooner failed to start


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def check_port(settings: Settings) -> None:
    """That the workers can listen: said here, once, rather than by each failing to start."""
    try:
        reuse_port_socket(settings.host, settings.port).close()
    except OSError as exc:
        raise ValueError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None


def supervise(settings: Settings, count: int, given: dict[str, Any]) -> int:
    """Run ``count`` workers until SIGINT or SIGTERM; 1 when a worker could not start."""
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    def start() -> tuple[BaseProcess, float]:
        process = spawn.Process(target=run_worker, args=(json.dumps(given),), daemon=False)
        process.start()
        return process, time.monotonic()

    workers = [start() for _ in range(count)]
    failed = False
    while not stopping.wait(0.5):
        for index, (process, started) in enumerate(workers):
            if process.is_alive():
                continue
            if time.monotonic() - started < STARTUP_SECONDS:
                log.error("worker %d exited with %s while starting; stopping", process.pid, process.exitcode)
                failed = True
                stopping.set()
                break
            log.warning("worker %d exited with %s; starting another", process.pid, process.exitcode)
            workers[index] = start()
    for process, _ in workers:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process, _ in workers:
        process.join(settings.shutdown_timeout + 5)
        if process.is_alive():
            process.kill()
    return 1 if failed else 0


def run_worker(given_json: str) -> None:
    """One worker process (spawned: it reads the configuration again, to the same settings)."""
    import uvicorn

    from qarion_pypi.app import create_app
    from qarion_pypi.cli.serve import uvicorn_options
    from qarion_pypi.observe import logs

    given = json.loads(given_json)
    settings = load_settings(Path(given["config"]) if given["config"] else None, given["overrides"])
    logs.configure(settings.log_format, settings.log_level)
    sock = reuse_port_socket(settings.host, settings.port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **uvicorn_options(settings)))
    server.run(sockets=[sock])
