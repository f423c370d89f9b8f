"""A closed-loop HTTP/1.1 load client that times every request itself: a second opinion on wrk's
latency figures.

Each of ``processes`` processes keeps ``connections / processes`` keep-alive connections busy:
send a GET, read the whole answer (by Content-Length), record the time from the first byte sent
to the last byte read, send the next. Paths rotate as in the wrk script. Every answer must be a
2xx; anything else stops the run. Used by ``compare_pypiserver.py``; on its own:

    python benchmarks/closed_loop.py http://127.0.0.1:8000 /simple/ --connections 128
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import selectors
import socket
import time
from urllib.parse import urlsplit

_LIMIT = 64 * 1024 * 1024  # an answer larger than this stops the run


class _Connection:
    def __init__(self, address: tuple[str, int], requests: list[bytes], offset: int) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.requests, self.next, self.buffer = requests, offset, b""
        self.started = 0.0

    def send(self) -> None:
        request = self.requests[self.next % len(self.requests)]
        self.next += 1
        self.started = time.perf_counter()
        self.sock.sendall(request)  # a GET of a few hundred bytes fits the socket's buffer

    def answer_complete(self) -> bool:
        """Reads what arrived; True once a whole answer is in (and consumed from the buffer)."""
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise SystemExit("the server closed a connection")
        self.buffer += chunk
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        if not 200 <= status < 300:
            raise SystemExit(f"answer {head[0]!r}")
        length = next((int(line.split(":", 1)[1]) for line in head if line.lower().startswith("content-length:")), None)
        if length is None or length > _LIMIT:
            raise SystemExit("an answer without a usable Content-Length")
        if len(self.buffer) < end + 4 + length:
            return False
        self.buffer = self.buffer[end + 4 + length :]
        return True


def _worker(
    address: tuple[str, int],
    requests: list[bytes],
    connections: int,
    seconds: float,
    first: int,
    out: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    selector = selectors.DefaultSelector()
    for index in range(connections):
        connection = _Connection(address, requests, first + index)
        selector.register(connection.sock, selectors.EVENT_READ, connection)
        connection.send()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=1.0):
            connection = key.data
            if connection.answer_complete():
                latencies.append(time.perf_counter() - connection.started)
                connection.send()
    out.put(latencies)


def measure(
    base: str,
    paths: list[str],
    seconds: float,
    auth: str | None = None,
    connections: int = 128,
    processes: int = 2,
    warm_up: float = 3.0,
) -> dict[str, float]:
    """Requests a second and p50/p99/max latency (ms) over ``seconds`` after a warm-up run."""
    url = urlsplit(base)
    address = (url.hostname or "127.0.0.1", url.port or 80)
    extra = f"Authorization: {auth}\r\n" if auth else ""
    requests = [f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n{extra}\r\n".encode() for path in paths]
    if warm_up:
        _run(address, requests, warm_up, connections, processes)
    latencies = sorted(_run(address, requests, seconds, connections, processes))
    count = len(latencies)
    return {
        "rps": count / seconds,
        "p50_ms": latencies[count // 2] * 1000,
        "p99_ms": latencies[int(count * 0.99)] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def _run(
    address: tuple[str, int], requests: list[bytes], seconds: float, connections: int, processes: int
) -> list[float]:
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    share = connections // processes
    workers = [
        multiprocessing.Process(target=_worker, args=(address, requests, share, seconds, index * share, out))
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    results: list[list[float]] = []
    deadline = time.monotonic() + seconds + 60
    while len(results) < len(workers):  # a process that failed says so at once, not at the deadline
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            failed = [worker.exitcode for worker in workers if worker.exitcode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                for worker in workers:
                    worker.kill()
                raise SystemExit(
                    f"a load process failed (exit codes {failed})" if failed else "the load did not finish"
                ) from None
    for worker in workers:
        worker.join(timeout=10)
    return [latency for result in results for latency in result]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(measure(args.base, args.paths, args.seconds, connections=args.connections, processes=args.processes))
