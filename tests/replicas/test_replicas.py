"""Two (or three) real server processes on one PostgreSQL database, one bucket and one Redis:
each failure a single-box design shows when it is run as replicas, reproduced and answered."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.replicas.cluster import Cluster, cluster
from tests.support import distbuilder as d
from tests.support.gated_upstream import PROJECT, gated_upstream
from tests.support.harness import Repo, cli, make_repo, wait_for_job, worker_process

pytestmark = [pytest.mark.slow, pytest.mark.backend("postgres")]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Cluster]:
    with cluster(tmp_path) as running:
        yield running


def test_replicas_started_together_share_one_schema_and_one_admin(tmp_path: Path) -> None:
    with cluster(tmp_path, count=3) as running:
        for server in running.replicas:
            with server.admin() as admin:
                assert admin.get("/me").json()["username"] == "admin"
        assert running.state.rows("SELECT COUNT(*) FROM users WHERE username = 'admin'") == [(1,)]
        assert running.state.rows("SELECT COUNT(*) FROM schema_info") == [(1,)]
        migrated = cli("migrate", "--data-dir", running.shared)
        assert migrated.returncode == 0 and "up to date" in migrated.stdout, migrated.stderr


def test_what_one_replica_writes_the_other_serves_at_once(pair: Cluster) -> None:
    first = make_repo(pair.replicas[0])
    second = pair.on(first, 1)
    content = d.wheel("shared")
    assert first.upload("shared-1.0-py3-none-any.whl", content).status_code == 200
    with second.raw("viewer") as http:
        page = http.get(second.simple + "shared/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        (file,) = page.json()["files"]
        assert http.get(second.server.url + second.simple + "shared/").status_code == 200
        assert http.get(file["url"]).content == content


def test_a_key_revoked_on_one_replica_fails_on_the_other_at_once(pair: Cluster) -> None:
    repo = make_repo(pair.replicas[0])
    with pair.replicas[0].admin() as admin:
        admin.post("/users", json={"username": "leaver"}).raise_for_status()
        admin.put(f"/spaces/{repo.space}/members/leaver", json={"role": "viewer"}).raise_for_status()
        created = admin.post("/users/leaver/api-keys", json={"name": "laptop"}).json()
    other = pair.replicas[1].client(created["key"])
    with other:
        for _ in range(3):  # remembered by the other replica's hot-path memo
            assert other.get("/me").status_code == 200
        with pair.replicas[0].admin() as admin:
            assert admin.delete(f"/users/leaver/api-keys/{created['id']}").status_code == 204
        assert other.get("/me").status_code == 401


def _at_once(*calls: Callable[[], httpx.Response]) -> list[int]:
    """Run the calls in threads released together; their status codes, sorted."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> int:
        barrier.wait(10)
        return call().status_code

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return sorted(pool.map(run, calls))


def test_concurrent_uploads_through_both_replicas(pair: Cluster) -> None:
    first = make_repo(pair.replicas[0])
    second = pair.on(first, 1)
    for round_ in range(8):
        race, same, fresh = f"race{round_}", f"same{round_}", f"fresh{round_}"
        one, two = d.wheel(race, salt="one"), d.wheel(race, salt="two")
        statuses = _at_once(partial(first.upload, f"{race}-1.0-py3-none-any.whl", one),
                            partial(second.upload, f"{race}-1.0-py3-none-any.whl", two))  # fmt: skip
        assert statuses == [200, 400], f"different bytes, round {round_}"
        both = d.wheel(same)
        statuses = _at_once(partial(first.upload, f"{same}-1.0-py3-none-any.whl", both),
                            partial(second.upload, f"{same}-1.0-py3-none-any.whl", both))  # fmt: skip
        assert statuses == [200, 200], f"the same bytes, round {round_}"
        statuses = _at_once(partial(first.upload, f"{fresh}-1.0-py3-none-any.whl", d.wheel(fresh)),
                            partial(second.upload, f"{fresh}-1.0.tar.gz", d.sdist(fresh)))  # fmt: skip
        assert statuses == [200, 200], f"wheel and sdist of a new project, round {round_}"
    with first.client() as api:
        packages = {p["name"]: p for p in api.get(f"{first.manage}/packages", params={"limit": 100}).json()}
    for round_ in range(8):
        assert len(packages[f"race{round_}"]["files"]) == 1
        assert len(packages[f"same{round_}"]["files"]) == 1
        assert len(packages[f"fresh{round_}"]["files"]) == 2
    checked = cli("check", "--data-dir", pair.shared)
    assert checked.returncode == 0 and "0 problems, 0 orphans" in checked.stdout, checked.stdout


@pytest.mark.parametrize("jobs_backend", ["local", "arq"])
def test_a_job_runs_once_while_the_other_replica_restarts(tmp_path: Path, jobs_backend: str) -> None:
    meta = d.metadata(PROJECT, "1.0")
    wheel = d.wheel(PROJECT, "1.0", meta=meta)
    filename = f"{PROJECT}-1.0-py3-none-any.whl"
    with gated_upstream({filename: (wheel, meta)}) as upstream:
        settings = {"upstream_index_url": upstream.index_url, "jobs_backend": jobs_backend,
                    "jobs_worker_in_server": "false"}  # fmt: skip
        with cluster(tmp_path, settings) as running, ExitStack() as workers:
            if jobs_backend == "arq":  # the replicas only queue; a worker runs the jobs
                workers.enter_context(worker_process(tmp_path / "worker", **running.settings))
            repo = make_repo(running.replicas[0])
            body = {"package_name": PROJECT, "version": "1.0", "python_tags": ["cp311"], "include_sdists": False}
            with repo.client() as api:
                queued = api.post(f"{repo.manage}/imports/pypi", json=body)
                assert queued.status_code == 202, queued.text
            status_path = f"{repo.manage}/imports/pypi/jobs/{queued.json()['job_id']}"
            upstream.wait_for_download(filename)  # the job is running, held at the gate
            running.restart(1)
            other = running.on(repo, 1)
            with other.client() as api:
                assert api.get(status_path).json()["status"] == "running"
            upstream.gate.set()
            with other.client() as api:
                finished = wait_for_job(api, status_path)
                assert finished["status"] == "completed", finished
                assert [f["filename"] for f in api.get(f"{repo.manage}/packages/{PROJECT}").json()["files"]] == [
                    filename
                ]
            assert upstream.count(filename) == 1, "the job ran more than once"


def test_two_retention_runs_of_one_repository_cannot_overlap(tmp_path: Path) -> None:
    with cluster(tmp_path, {"jobs_backend": "arq", "jobs_worker_in_server": "false"}) as running:  # no worker yet
        first = make_repo(running.replicas[0])
        second = running.on(first, 1)
        assert first.upload("kept-1.0-py3-none-any.whl", d.wheel("kept")).status_code == 200
        runs = f"{first.manage}/retention/runs"

        def start_run(repo: Repo) -> httpx.Response:
            with repo.client() as api:
                return api.post(runs, json={"dry_run": True})

        statuses = _at_once(lambda: start_run(first), lambda: start_run(second))
        assert statuses == [202, 409]
        with first.client() as api:
            refused = api.post(runs, json={"dry_run": True})
            assert refused.status_code == 409 and "already queued or running" in refused.json()["detail"]
        with worker_process(tmp_path / "worker", **running.settings), first.client() as api:
            (job,) = running.state.rows("SELECT id FROM jobs WHERE kind = 'retention'")
            assert wait_for_job(api, f"{runs}/{job[0]}")["status"] == "completed"
            again = api.post(runs, json={"dry_run": True})
            assert again.status_code == 202
            assert wait_for_job(api, f"{runs}/{again.json()['job_id']}")["status"] == "completed"


def test_killing_one_replica_under_load_loses_nothing_confirmed(pair: Cluster) -> None:
    first = make_repo(pair.replicas[0])
    second = pair.on(first, 1)
    confirmed: dict[str, str] = {}
    lock = threading.Lock()

    def uploader(repo: Repo, stem: str) -> None:
        for index in range(60):
            filename = f"{stem}{index}-1.0-py3-none-any.whl"
            content = d.wheel(f"{stem}{index}")
            try:
                status = repo.upload(filename, content).status_code
            except httpx.TransportError:
                continue  # the replica is gone: its caller would retry on the other
            if status == 200:
                with lock:
                    confirmed[filename] = hashlib.sha256(content).hexdigest()

    threads = [threading.Thread(target=uploader, args=(repo, stem))
               for repo, stem in ((first, "a"), (first, "b"), (second, "c"))]  # fmt: skip
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(confirmed) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = pair.replicas[0].process
    assert victim is not None
    os.kill(victim.pid, signal.SIGKILL)
    for thread in threads:
        thread.join(120)
    with second.client() as api:
        stored = {f["filename"]: f["sha256"] for p in api.get(f"{first.manage}/packages", params={"limit": 500}).json()
                  for f in p["files"]}  # fmt: skip
    assert len(confirmed) >= 60 and confirmed.items() <= stored.items()  # the survivor's 60, and all before the kill
    with second.raw() as http:
        for filename in list(confirmed)[::7]:
            project = filename.split("-")[0]
            body = http.get(second.simple + f"{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            (file,) = body.json()["files"]
            assert hashlib.sha256(http.get(file["url"]).content).hexdigest() == confirmed[filename]
    checked = cli("check", "--data-dir", pair.shared)
    assert "0 problems" in checked.stdout, checked.stdout
