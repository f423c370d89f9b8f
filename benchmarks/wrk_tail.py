"""Whose tail is wrk's p99 at 128 connections? A bare HTTP server on uvloop (or asyncio's own loop)
that spends ``--busy-us`` per request and logs when each request arrives on each connection, driven
by wrk and then by ``closed_loop.py``. A request cannot take longer than the gap between its
arrival and the next arrival on its connection, so the largest gap bounds every request's time.

    .venv/bin/python benchmarks/wrk_tail.py [--loop uvloop|asyncio] [--seconds 8]

Prints wrk's p99, closed_loop's p99 and the largest gap the server saw during the wrk run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict

import closed_loop

_BODY = b"x" * 2000
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s" % (len(_BODY), _BODY)


def serve(port: int, loop_name: str, busy: float, seconds: float) -> None:
    """The bare server: prints the largest arrival gap (ms) and the number of requests, then exits."""
    arrivals: dict[int, list[float]] = defaultdict(list)

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.key = id(self)

        def data_received(self, data: bytes) -> None:
            now = time.perf_counter()
            arrivals[self.key].append(now)
            while time.perf_counter() < now + busy:
                pass
            self.transport.write(_ANSWER)  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", port, backlog=2048)
        async with server:
            await asyncio.sleep(seconds)
        gaps = [b - a for times in arrivals.values() for a, b in itertools.pairwise(times)]
        print(json.dumps({"requests": sum(map(len, arrivals.values())), "max_gap_ms": max(gaps) * 1000}), flush=True)

    if loop_name == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(loop_name: str, busy_us: int, seconds: int, what: str) -> dict[str, float]:
    port = free_port()
    life = seconds + 6
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--loop",
            loop_name,
            "--busy-us",
            str(busy_us),
            "--seconds",
            str(life),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        if what == "wrk":
            output = subprocess.run(
                ["wrk", "-t2", "-c128", f"-d{seconds}s", "--latency", base + "/"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            number, unit = re.search(r"\s99%\s+([\d.]+)(\w+)", output).groups()  # type: ignore[union-attr]
            result = {"p99_ms": float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]}
        else:
            timed = closed_loop.measure(base, ["/"], seconds, warm_up=0)
            result = {"p99_ms": timed["p99_ms"], "max_ms": timed["max_ms"]}
        seen = json.loads(server.communicate(timeout=life + 30)[0])
        return {**result, **seen}
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--busy-us", type=int, default=150)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.loop, args.busy_us / 1e6, args.seconds)
    else:
        for client in ("wrk", "closed_loop"):
            print(client, run(args.loop, args.busy_us, args.seconds, client), flush=True)
