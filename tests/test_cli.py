"""The qarion-pypi command: bootstrap, admin helpers, and errors that name the problem."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from qarion_pypi.db.database import SCHEMA_VERSION
from tests.support.backends import StateReader, environment_for
from tests.support.harness import Command, LiveServer, cli, server_environment, wait_until_serving
from tests.support.net import free_port


def test_generated_admin_key_is_printed_once(tmp_path: Path) -> None:
    environ = server_environment("x")
    del environ["QARION_PYPI_ADMIN_KEY"]
    data = tmp_path / "data"
    outputs = []
    for _ in range(2):
        port = free_port()
        log = tmp_path / "serve.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "qarion_pypi", "serve", "--port", str(port), "--data-dir", str(data)],
                env=environ,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            server = LiveServer(url=f"http://127.0.0.1:{port}", data_dir=data, admin_key="", process=process)
            try:
                wait_until_serving(server)
                outputs.append(log.read_text())
                if len(outputs) == 1:
                    key = re.search(r"(qpypi_\S+)", outputs[0]).group(1)  # type: ignore[union-attr]
                    me = httpx.get(server.api + "/me", headers={"Authorization": f"Bearer {key}"})
                    assert me.json()["username"] == "admin" and me.json()["is_admin"] is True
            finally:
                server.stop()
    assert "shown only this once" in outputs[0]
    assert "qpypi_" not in outputs[1]


def test_admin_commands_work_on_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = cli("admin", "create-user", "alice", "--admin", "--data-dir", data)
    assert created.returncode == 0, created.stderr
    assert "Created user 'alice' (platform admin)" in created.stdout
    key = cli("admin", "create-key", "alice", "--data-dir", data)
    assert key.returncode == 0
    alice_key = key.stdout.strip().splitlines()[-1]
    assert alice_key.startswith("qpypi_")
    port = free_port()
    environ = {**server_environment("unused-admin-key-000000"), **environment_for(data)}
    with subprocess.Popen(
        [sys.executable, "-m", "qarion_pypi", "serve", "--port", str(port), "--data-dir", str(data)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        server = LiveServer(url=f"http://127.0.0.1:{port}", data_dir=data, admin_key="", process=process)
        try:
            wait_until_serving(server)
            assert (
                httpx.get(server.api + "/me", headers={"Authorization": f"Bearer {alice_key}"}).json()["username"]
                == "alice"
            )
        finally:
            server.stop()


def test_cli_errors_name_the_problem(tmp_path: Path, command: Command) -> None:
    data = tmp_path / "data"
    assert command("admin", "create-user", "bob", "--data-dir", data).returncode == 0
    duplicate = command("admin", "create-user", "bob", "--data-dir", data)
    assert duplicate.returncode == 2 and "User 'bob' already exists" in duplicate.stderr
    missing = command("admin", "create-key", "nobody", "--data-dir", data)
    assert missing.returncode == 2 and "User 'nobody' not found" in missing.stderr
    bad_config = command("serve", "--config", tmp_path / "nope.toml", "--data-dir", data)
    assert bad_config.returncode == 2 and "cannot read config file" in bad_config.stderr
    bad_name = command("admin", "create-user", "no spaces", "--data-dir", data)
    assert bad_name.returncode == 2 and "Invalid username" in bad_name.stderr
    short_key = {"QARION_PYPI_ADMIN_KEY": "short"}
    too_short = command("admin", "create-user", "carol", "--data-dir", tmp_path / "fresh", env=short_key)
    assert too_short.returncode == 2 and "at least 16 characters" in too_short.stderr


def test_migrate_creates_then_finds_the_schema_up_to_date(tmp_path: Path, command: Command) -> None:
    data = tmp_path / "data"
    created = command("migrate", "--data-dir", data)
    assert created.returncode == 0 and f"Created the database schema (version {SCHEMA_VERSION})" in created.stdout
    again = command("migrate", "--data-dir", data)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert StateReader(data).rows("SELECT COUNT(*) FROM users") == [(0,)]  # the first serve makes the admin


def test_the_worker_needs_the_arq_backend(tmp_path: Path, command: Command) -> None:
    local = command("worker", "--data-dir", tmp_path / "data", env={"QARION_PYPI_JOBS_BACKEND": "local"})
    assert local.returncode == 2 and 'set [jobs] backend = "arq"' in local.stderr
    no_redis = command("worker", "--data-dir", tmp_path / "data", env={"QARION_PYPI_JOBS_BACKEND": "arq",
                                                                        "QARION_PYPI_REDIS_URL": ""})  # fmt: skip
    assert no_redis.returncode == 2 and "needs redis_url" in no_redis.stderr
