"""The README's quick start and "Manage it" commands, run as they are written there.

The commands come out of README.md itself, so the README cannot drift from the product. Only the
install line is left out (this test runs in the environment that line makes, linked in as
``.venv``), and the port is a free one instead of 8000.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.clients import isolated_env
from tests.support.net import free_port

pytestmark = pytest.mark.slow

README = Path(__file__).parents[2] / "README.md"


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    text = README.read_text()
    quick, manage = _blocks(_section(text, "Quick start")), _blocks(_section(text, "Manage it"))
    install, serve, *steps = quick
    assert "pip install ." in install and "qarion-pypi serve" in serve
    port = str(free_port())
    script = "\n".join(["set -euo pipefail", *steps, *manage]).replace("8000", port)

    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the environment the install line makes
    environ = isolated_env(tmp_path / "home")
    environ["PATH"] = os.pathsep.join([str(Path(sys.prefix) / "bin"), environ.get("PATH", "")])
    server_log = tmp_path / "serve.log"
    with open(server_log, "wb") as log:
        server = subprocess.Popen(
            ["bash", "-c", serve], cwd=tmp_path, env={**environ, "QARION_PYPI_PORT": port}, stdout=log, stderr=log
        )
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/health", server)
        result = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server_log.read_text()}"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.stdout.count("Hello from a private index.") == 2  # pip's install and uv's
    assert "alice's key: qpypi_" in result.stdout
    assert '"yanked":true' in result.stdout.replace(" ", "")


def _wait_for_health(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the README's serve command exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the README's server did not start in time")
