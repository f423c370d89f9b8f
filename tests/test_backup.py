"""``qarion-pypi backup`` while uploads go on, ``restore`` into new data dirs, and the restored
servers compared with the original: every simple page and every file's hash."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.harness import LiveServer, Repo, cli, live_server, make_repo, server_environment

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _catalogue(repo: Repo) -> dict[str, list[tuple[str, str]]]:
    """Every project's files as (filename, sha256 of the downloaded bytes), checking each
    download against the hash its page states."""
    found = {}
    with repo.raw("viewer") as http:
        projects = http.get(repo.simple, headers=JSON).json()["projects"]
        for project in projects:
            page = http.get(repo.simple + f"{project['name']}/", headers=JSON).json()
            files = []
            for entry in page["files"]:
                digest = hashlib.sha256(http.get(entry["url"]).content).hexdigest()
                assert digest == entry["hashes"]["sha256"], entry["filename"]
                files.append((entry["filename"], digest))
            found[project["name"]] = sorted(files)
    return found


@contextmanager
def _restored(original: LiveServer, repo: Repo, backup: Path, data: Path) -> Iterator[Repo]:
    """A server on a new data dir restored from ``backup``, and ``repo`` as it sees it."""
    done = cli("restore", backup, "--data-dir", data, env=server_environment(original.admin_key))
    assert done.returncode == 0, done.stderr
    with live_server(data, admin_key=original.admin_key) as server:
        yield Repo(server=server, space=repo.space, slug=repo.slug, id=repo.id, keys=repo.keys)


@pytest.mark.slow
@pytest.mark.backend("sqlite")
def test_backup_during_uploads_restores_to_the_same_answers(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    with live_server(tmp_path / "data") as original:
        repo = make_repo(original)
        for n in range(10):
            assert repo.upload(f"base-1.{n}-py3-none-any.whl", d.wheel("base", f"1.{n}")).status_code == 200
        stop, uploaded = threading.Event(), []

        def keep_uploading() -> None:
            n = 0
            while not stop.is_set() and n < 200:
                if repo.upload(f"busy-2.{n}-py3-none-any.whl", d.wheel("busy", f"2.{n}")).status_code == 200:
                    uploaded.append(n)
                n += 1

        uploader = threading.Thread(target=keep_uploading)
        uploader.start()
        try:
            first = cli("backup", backup, "--data-dir", original.data_dir, env=server_environment(original.admin_key))
        finally:
            stop.set()
            uploader.join(timeout=60)
        assert first.returncode == 0, first.stderr
        assert uploaded, "the uploads did not run beside the backup"
        with _restored(original, repo, backup, tmp_path / "during") as during:
            seen = _catalogue(during)  # consistent: every listed file is there, whole
        assert len(seen["base"]) == 10

        second = cli("backup", backup, "--data-dir", original.data_dir, env=server_environment(original.admin_key))
        assert second.returncode == 0 and "already there" in second.stdout
        kept = int(second.stdout.split(" blobs copied, ")[1].split(" already there")[0])
        assert kept >= 10  # incremental: the first backup's blobs were not copied again
        with _restored(original, repo, backup, tmp_path / "after") as after:
            assert _catalogue(after) == _catalogue(repo)


def test_backup_and_restore_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    # on a single box whatever backend this run's servers use
    env = {**server_environment("unused-admin-key-000000"), "QARION_PYPI_DATABASE_URL": "",
           "QARION_PYPI_STORAGE_BACKEND": "filesystem"}  # fmt: skip
    on_postgres = {**env, "QARION_PYPI_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
                   "QARION_PYPI_SECRET_KEY": "s"}  # fmt: skip
    refused = cli("backup", tmp_path / "b", "--data-dir", tmp_path / "d", env=on_postgres)
    assert refused.returncode == 2 and "pg_dump" in refused.stderr
    nothing = cli("restore", tmp_path / "nowhere", "--data-dir", tmp_path / "new", env=env)
    assert nothing.returncode == 2 and "holds no backup" in nothing.stderr
