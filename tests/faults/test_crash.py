"""``kill -9`` while uploads stream in, then a restart on the same data: every confirmed upload is
there with its bytes, nothing half written is visible, staging is empty, and ``check`` agrees."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo, cli, live_server, make_repo, server_environment

pytestmark = pytest.mark.slow  # real servers, killed and restarted: a scenario, not a unit


def _slow_upload(repo: Repo, name: str, stop: threading.Event) -> None:
    """An upload whose body trickles until the server dies under it."""
    boundary = "slowupload"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{name}-1.0-py3-none-any.whl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        while not stop.is_set():
            yield b"\0" * 65536
            time.sleep(0.01)

    try:
        with repo.raw() as http:
            http.post(
                repo.legacy, content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
            )
    except httpx.TransportError:
        pass


def test_kill_during_uploads_then_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    confirmed: dict[str, str] = {}
    with live_server(data) as server:
        repo = make_repo(server)
        stop = threading.Event()
        trickles = [threading.Thread(target=_slow_upload, args=(repo, f"slow{i}", stop)) for i in range(3)]
        for thread in trickles:
            thread.start()

        def uploader() -> None:
            for index in range(200):
                content = d.wheel(f"fast{index}")
                try:
                    status = repo.upload(f"fast{index}-1.0-py3-none-any.whl", content).status_code
                except httpx.TransportError:
                    return
                if status == 200:
                    confirmed[f"fast{index}-1.0-py3-none-any.whl"] = hashlib.sha256(content).hexdigest()

        writer = threading.Thread(target=uploader)
        writer.start()
        deadline = time.monotonic() + 20
        while len(confirmed) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        staging = server.state.staging
        assert any(staging.glob("incoming-*")), "the trickling uploads should be staging"
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        stop.set()
        writer.join(30)
        for thread in trickles:
            thread.join(30)
        admin_key = server.admin_key

    with live_server(data, admin_key=admin_key) as restarted:
        assert not any(staging.glob("incoming-*"))  # the dead process's staging files are gone at once
        restarted_repo = Repo(restarted, repo.space, repo.slug, repo.id, repo.keys)
        with restarted_repo.client() as api:
            files = [f for p in api.get(f"{repo.manage}/packages").json() for f in p["files"]]
        stored = {f["filename"]: f["sha256"] for f in files}
        assert confirmed and confirmed.items() <= stored.items()  # nothing confirmed is lost
        assert not any(name.startswith("slow") for name in stored)  # nothing half written is visible
        files_root = repo.simple.removesuffix("simple/") + "files"
        with restarted_repo.raw() as http:
            for file in files:
                body = http.get(f"{files_root}/{file['id']}/{file['filename']}").content
                assert hashlib.sha256(body).hexdigest() == file["sha256"]
    checked = cli("check", "--data-dir", data, env=server_environment(admin_key))
    assert "0 problems" in checked.stdout, checked.stdout
    # At most the one upload the kill cut between placing its blob and committing its row leaves
    # an orphan: a whole blob, never a partial one, which --repair collects once it is old.
    orphans = [line for line in checked.stdout.splitlines() if line.startswith("ORPHAN")]
    assert len(orphans) <= 1
