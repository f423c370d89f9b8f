"""Sustained upload throughput: N small wheels (default 50,000, about 700 bytes each) uploaded
through twine's legacy API by C concurrent uploaders (default 8) into one hosted repository of a
fresh ``qarion-pypi serve`` (``--workers`` processes), then the rate over the first and the last
5,000 files (their ratio shows whether uploads slow down as the repository grows).

    .venv/bin/python benchmarks/uploads.py [--files 50000] [--concurrency 8] [--workers 1]
        [--backend sqlite|postgres-s3]

The request bodies are built before the clock starts, so the client spends its time sending, not
encoding; it still shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_pypiserver import make_repository, qarion, tiny_wheel  # noqa: E402

WINDOW = 5000


def legacy_body(name: str, version: str, boundary: str) -> bytes:
    """The multipart body twine sends for one wheel."""
    content = tiny_wheel(name, version)
    filename = f"{name}-{version}-py3-none-any.whl"
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


async def upload_all(url: str, auth: str, bodies: list[bytes], boundary: str, concurrency: int) -> list[float]:
    """Uploads every body; returns the time each one finished (monotonic seconds), in order."""
    finished: list[float] = []
    queue = iter(bodies)
    headers = {"Authorization": auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as client:

        async def uploader() -> None:
            for body in queue:
                response = await client.post(url, content=body)
                if response.status_code != 200:
                    raise SystemExit(f"upload failed: {response.status_code} {response.text[:300]}")
                finished.append(time.monotonic())

        await asyncio.gather(*(uploader() for _ in range(concurrency)))
    return finished


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backend", choices=("sqlite", "postgres-s3"), default="sqlite")
    args = parser.parse_args()
    boundary = secrets.token_hex(16)
    names = [(f"pkg{n % args.projects:05d}", f"1.{n // args.projects}") for n in range(args.files)]
    bodies = [legacy_body(name, version, boundary) for name, version in names]
    with tempfile.TemporaryDirectory() as temp, ExitStack() as stack:
        backend: dict[str, str] = {}
        if args.backend == "postgres-s3":
            from scale_out import postgres_and_s3

            backend = stack.enter_context(postgres_and_s3(Path(temp)))
        base, key, _ = stack.enter_context(qarion(Path(temp) / "data", backend, workers=args.workers))
        _, upload_path = make_repository(base, key, "uploads")
        auth = "Basic " + base64.b64encode(f"__token__:{key}".encode()).decode()
        started = time.monotonic()
        finished = asyncio.run(upload_all(base + upload_path + "/", auth, bodies, boundary, args.concurrency))
    total = finished[-1] - started
    print(f"{args.files} wheels, {args.concurrency} uploaders, {args.workers} worker(s), {args.backend}: "
          f"{total:.1f} s, {args.files / total:.0f} wheels/s")  # fmt: skip
    window = min(WINDOW, args.files // 2)
    first = window / (finished[window - 1] - started)
    last = window / (finished[-1] - finished[-window - 1])
    print(f"first {window}: {first:.0f} wheels/s; last {window}: {last:.0f} wheels/s ({last / first:.0%} of the first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
