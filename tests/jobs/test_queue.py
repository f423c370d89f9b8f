"""The job queue on the test backend's real database: one claim per job however often it is
offered, leases that keep a live runner's job and free a dead one's, exclusive kinds, and a
runner that stops leaving a reason behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, Unavailable
from qarion_pypi.jobs.launch import LocalLauncher
from qarion_pypi.jobs.queue import INTERRUPTED, JobQueue, JobRecord, Progress
from tests.support.backends import database_url_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    (tmp_path / "data").mkdir()
    database = Database(database_url_for(tmp_path / "data"))
    await database.connect()
    await database.create_schema()
    yield database
    await database.disconnect()


class Handler:
    """A dispatch function that counts its runs and, when asked, waits until released."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.hold = False

    async def __call__(self, job: JobRecord, progress: Progress) -> dict[str, Any]:
        self.runs.append(job.id)
        await progress.report(50, "working", "half way")
        self.started.set()
        if self.hold:
            await self.release.wait()
        if job.params.get("fail"):
            raise Conflict("told to fail")
        return {"done": True}


async def _status(db: Database, job_id: str) -> dict[str, Any]:
    row = await db.fetch_one(sa.select(t.jobs).where(t.jobs.c.id == job_id))
    assert row is not None
    return dict(row)


async def test_a_job_offered_many_times_runs_once(db: Database) -> None:
    handler = Handler()
    queues = [JobQueue(db, handler) for _ in range(3)]  # three runners, as on three replicas
    job = await queues[0].add("demo", {}, repository_id=None, created_by_id=None)
    async with anyio.create_task_group() as group:
        for queue in queues:
            for _ in range(2):
                group.start_soon(queue.run, job.id)
    assert handler.runs == [job.id]
    status = await _status(db, job.id)
    assert (status["status"], status["percent"], status["result"]) == ("completed", 100, {"done": True})
    assert status["progress_events"][0]["phase"] == "working" and status["lease_until"] is None


async def test_a_failing_handler_fails_its_job_with_the_reason(db: Database) -> None:
    queue = JobQueue(db, Handler())
    job = await queue.add("demo", {"fail": True}, repository_id=None, created_by_id=None)
    await queue.run(job.id)
    status = await _status(db, job.id)
    assert (status["status"], status["error_message"]) == ("failed", "told to fail")


async def test_a_live_runners_job_is_left_alone_and_a_dead_ones_is_failed(db: Database) -> None:
    handler = Handler()
    handler.hold = True
    runner = JobQueue(db, handler, lease_seconds=3)
    runner.runner = "replica-b:4242:beef"  # a process on another machine
    job = await runner.add("demo", {}, repository_id=None, created_by_id=None)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run, job.id)
        await handler.started.wait()
        await JobQueue(db, Handler()).recover(queued_for=0)  # this machine's replica, restarting
        assert (await _status(db, job.id))["status"] == "running"  # its lease holds
        await anyio.sleep(1.5)  # renewed every lease/3 seconds
        assert (await _status(db, job.id))["lease_until"] > utcnow() + timedelta(seconds=2)
        handler.release.set()
    assert (await _status(db, job.id))["status"] == "completed"

    # a runner on another machine that stopped renewing: failed once its lease ran out
    stale = await runner.add("demo", {}, repository_id=None, created_by_id=None)
    past = utcnow() - timedelta(seconds=1)
    await db.execute(t.jobs.update().where(t.jobs.c.id == stale.id)
                     .values(status="running", claimed_by="elsewhere:7:ffff", lease_until=past))  # fmt: skip
    await runner.recover(queued_for=0)
    status = await _status(db, stale.id)
    assert (status["status"], status["phase"], status["error_message"]) == ("failed", "interrupted", INTERRUPTED)


async def test_a_dead_process_on_this_host_frees_its_job_at_once(db: Database) -> None:
    queue = JobQueue(db, Handler())
    job = await queue.add("demo", {}, repository_id=None, created_by_id=None)
    host = queue.runner.split(":")[0]
    dead_pid = 2**22 + 17  # above the kernel's default pid_max: no such process
    await db.execute(t.jobs.update().where(t.jobs.c.id == job.id).values(
        status="running", claimed_by=f"{host}:{dead_pid}:0000", lease_until=utcnow() + timedelta(hours=1)))  # fmt: skip
    await queue.recover(queued_for=0)
    assert (await _status(db, job.id))["status"] == "failed"


async def test_a_runner_that_loses_its_lease_stops_its_job(db: Database) -> None:
    handler = Handler()
    handler.hold = True
    queue = JobQueue(db, handler, lease_seconds=1.2)
    job = await queue.add("demo", {}, repository_id=None, created_by_id=None)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(queue.run, job.id)
            await handler.started.wait()
            # someone else decided this runner was gone, and failed the job
            await db.execute(t.jobs.update().where(t.jobs.c.id == job.id).values(status="failed"))
    status = await _status(db, job.id)
    assert status["status"] == "failed" and status["result"] is None  # not overwritten by the stopped run


async def test_stopping_a_runner_marks_its_job_interrupted(db: Database) -> None:
    handler = Handler()
    handler.hold = True
    queue = JobQueue(db, handler)
    job = await queue.add("demo", {}, repository_id=None, created_by_id=None)
    async with anyio.create_task_group() as group:
        group.start_soon(queue.run, job.id)
        await handler.started.wait()
        group.cancel_scope.cancel()
    status = await _status(db, job.id)
    assert (status["status"], status["phase"], status["error_message"]) == ("failed", "interrupted", INTERRUPTED)


async def test_queued_jobs_are_offered_again_and_exclusive_kinds_refuse_a_second(db: Database) -> None:
    handler = Handler()
    queue = JobQueue(db, handler)
    with pytest.raises(Unavailable):  # no launcher: nothing here runs jobs
        await queue.enqueue("demo", {}, repository_id=None, created_by_id=None)
    waiting = await queue.add("demo", {}, repository_id=None, created_by_id=None)  # its runner never came
    async with anyio.create_task_group() as group:
        queue.launcher = LocalLauncher(queue.run, group, concurrency=1)
        await queue.recover(queued_for=3600)
        assert handler.runs == []  # too young to be called lost
        await queue.recover(queued_for=0)
        handler.hold = True
        first = await queue.enqueue("sweep", {}, repository_id=None, created_by_id=None, exclusive=True)
        with pytest.raises(Conflict, match="already queued or running"):
            await queue.enqueue("sweep", {}, repository_id=None, created_by_id=None, exclusive=True)
        handler.release.set()
    assert handler.runs == [waiting.id, first]
