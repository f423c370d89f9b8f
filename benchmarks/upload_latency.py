"""The server's own latency for an upload: each of 50 wheels of 100 KiB sent as one whole request
(headers and multipart body in one write) on a keep-alive connection, timed from the write to the
end of the answer, alternating between code trees and pypiserver, round after round.

twine's own time (``upload_rounds.py``) includes its start-up, its hashing and its slow trickle of
8 KiB writes; this takes the client out, so a change to the server's upload path shows at a
fraction of a millisecond. Reported per variant: the median and the 10th percentile over every
upload of every round.

    .venv/bin/python benchmarks/upload_latency.py [--rounds 8] [--tree PATH ...] [--no-pypiserver]
        [--durable-pypiserver]

``--tree`` names a checkout whose ``qarion_pypi`` the server runs (from that directory), e.g. a
``git worktree`` of the previous release; without it, this checkout only. ``--durable-pypiserver``
adds pypiserver with its uploads synced as Qarion syncs a blob (``pypiserver_durable.py``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from upload_rounds import rounds_and_variants, servers, wheels


def request(host: str, path: str, user: str, password: str, wheel: Path) -> bytes:
    """twine's form for ``wheel``, as one HTTP request."""
    data = wheel.read_bytes()
    boundary = "----qarion" + secrets.token_hex(8)
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": wheel.name.split("-")[0],
        "version": "1.0",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "md5_digest": hashlib.md5(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{wheel.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {credentials}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def timed(connection: socket.socket, message: bytes) -> float:
    started = time.perf_counter()
    connection.sendall(message)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection")
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")[1:]
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(rest) < length:
        rest += connection.recv(65536)
    elapsed = time.perf_counter() - started
    if head.split()[1] != b"200":
        raise SystemExit(f"upload refused: {head.decode(errors='replace')}")
    return elapsed


def run(warm: str, timed_url: str, user: str, password: str, warm_up: list[Path], batch: list[Path]) -> list[float]:
    """Each wheel's upload time, after the warm-up wheels, on one keep-alive connection."""
    parsed = urlsplit(timed_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    warm_requests = [request(host, urlsplit(warm).path, user, password, wheel) for wheel in warm_up]
    requests = [request(host, parsed.path, user, password, wheel) for wheel in batch]
    with socket.create_connection((host, port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for message in warm_requests:
            timed(connection, message)
        return [timed(connection, message) for message in requests]


def main() -> int:
    rounds, variants = rounds_and_variants(__doc__)
    batch, warm_up = wheels()
    seconds: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_, variant, (warm, timed_url, user, password, _) in servers(rounds, variants):
        seconds[variant] += run(warm, timed_url, user, password, warm_up, batch)
        if variant == variants[-1]:
            medians = ", ".join(f"{statistics.median(seconds[v][-len(batch) :]) * 1000:.2f} ms" for v in variants)
            print(f"round {round_ + 1}: {medians}", flush=True)
    print("| variant | median per upload | 10th percentile |")
    print("| --- | --- | --- |")
    for variant, values in seconds.items():
        median, tenth = statistics.median(values), sorted(values)[len(values) // 10]
        print(f"| {variant} | {median * 1000:.2f} ms | {tenth * 1000:.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
