"""The job queue. Jobs are rows; a launcher decides where they run.

The queue knows the database and one ``dispatch`` function, which the composition root builds
from each kind's handler; it knows no service. Whoever runs a job first claims its row (one
conditional update: of several processes offered the same job, exactly one gets it) and keeps a
lease on it while it runs. A handler reports progress through ``Progress``; every report is
written to the row, so a status read from any replica sees it.

A job whose runner stops is failed with a reason (handlers do not promise to be resumable): at
once when the runner stops cleanly, otherwise by ``recover`` once its process is known dead or
its lease has run out. ``recover`` also offers queued jobs that nobody has taken to the launcher
again.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import anyio
import sqlalchemy as sa

from qarion_pypi.db import Database, Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid, new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, NotFound, QarionError, Unavailable

log = logging.getLogger(__name__)
MAX_EVENTS = 200
INTERRUPTED = "Interrupted: the server stopped while this job was running; start it again."


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    repository_id: str | None
    status: str  # queued, running, completed or failed
    percent: int
    phase: str
    message: str
    progress_events: list[dict[str, Any]]
    # Each kind reads these into its own typed parameters.
    params: dict[str, Any]
    result: dict[str, Any] | None
    error_message: str | None
    created_by_id: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> JobRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass
class Progress:
    db: Database
    job_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    async def report(self, percent: int, phase: str, message: str) -> None:
        event = {"at": utcnow().isoformat(), "percent": percent, "phase": phase, "message": message}
        self.events = [*self.events, event]
        await self.db.execute(
            t.jobs.update()
            .where(t.jobs.c.id == self.job_id)
            .values(percent=percent, phase=phase, message=message, progress_events=self.events[-MAX_EVENTS:])
        )


Dispatch = Callable[[JobRecord, Progress], Awaitable[dict[str, Any]]]


class Launcher(Protocol):
    """Gets a committed, queued job to a runner (which then calls ``JobQueue.run``)."""

    async def submit(self, job_id: str) -> None: ...


_RUNNERS: dict[int, str] = {}


def runner_id() -> str:
    """This process, as job rows name their runner: host, process id and a token that tells it
    from an earlier process that had the same id (one per process, forks included)."""
    pid = os.getpid()
    return _RUNNERS.setdefault(pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}")


class JobQueue:
    def __init__(self, db: Database, dispatch: Dispatch, *, lease_seconds: float = 60.0) -> None:
        self._db = db
        self._dispatch = dispatch
        self.lease = timedelta(seconds=lease_seconds)
        self.runner = runner_id()
        # Set while jobs can be started (the server's or worker's lifespan).
        self.launcher: Launcher | None = None

    # -- queuing --------------------------------------------------------------------------------

    async def enqueue(
        self, kind: str, params: dict[str, Any], *, repository_id: str | None, created_by_id: str | None,
        exclusive: bool = False,
    ) -> str:  # fmt: skip
        """Add a job and start it; Unavailable (503) when this process runs no queue. An
        ``exclusive`` job is refused (409) while another of its kind for the repository is
        queued or running, whichever replica queued it."""
        if self.launcher is None:
            raise Unavailable("The job queue is not running; try again shortly.")
        async with self._db.transaction():
            if exclusive:
                await self._db.lock("jobs", kind, repository_id or "")
                busy = await self._db.fetch_one(
                    sa.select(t.jobs.c.id).where(
                        t.jobs.c.kind == kind,
                        t.jobs.c.repository_id == repository_id,
                        t.jobs.c.status.in_(("queued", "running")),
                    )
                )
                if busy is not None:
                    raise Conflict(f"A {kind} job of this repository is already queued or running ({busy['id']}).")
            job = await self.add(kind, params, repository_id=repository_id, created_by_id=created_by_id)
        await self.start(job)
        return job.id

    async def add(
        self, kind: str, params: dict[str, Any], *, repository_id: str | None, created_by_id: str | None
    ) -> JobRecord:
        """Write a queued job's row, inside the caller's transaction if there is one; ``start``
        it once that transaction has committed."""
        job = JobRecord(
            id=new_id(), kind=kind, repository_id=repository_id, status="queued", percent=0, phase="queued",
            message="", progress_events=[], params=params, result=None, error_message=None,
            created_by_id=created_by_id, created_at=utcnow(),
        )  # fmt: skip
        await self._db.execute(t.jobs.insert().values(**job.__dict__))
        return job

    async def start(self, job: JobRecord) -> None:
        """Hand a committed job to the launcher. Should that fail, or no launcher run here, the
        row stays queued and the next ``recover`` (of any process) offers it again."""
        await self._submit(job.id)

    async def _submit(self, job_id: str) -> None:
        if self.launcher is None:
            return
        try:
            await self.launcher.submit(job_id)
        except Exception:
            log.exception("could not hand job %s to its runner; it stays queued", job_id)

    async def counts(self) -> list[tuple[str, str, int]]:
        """How many jobs there are of each kind in each status."""
        rows = await self._db.fetch_all(
            sa.select(t.jobs.c.kind, t.jobs.c.status, sa.func.count().label("n")).group_by(
                t.jobs.c.kind, t.jobs.c.status
            )
        )
        return [(row["kind"], row["status"], int(row["n"])) for row in rows]

    async def get(self, job_id: str, *, kind: str, repository_id: str) -> JobRecord:
        row = None
        if is_uuid(job_id):
            row = await self._db.fetch_one(
                sa.select(t.jobs).where(
                    t.jobs.c.id == job_id, t.jobs.c.kind == kind, t.jobs.c.repository_id == repository_id
                )
            )
        if row is None:
            raise NotFound("Job not found.")
        return JobRecord.from_row(row)

    # -- running --------------------------------------------------------------------------------

    async def run(self, job_id: str) -> None:
        """Claim the job and run it to its end; nothing when another runner has it already."""
        now = utcnow()
        claimed = await self._db.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job_id, t.jobs.c.status == "queued")
            .values(status="running", phase="starting", started_at=now, claimed_by=self.runner,
                    lease_until=now + self.lease)
        )  # fmt: skip
        if not claimed:
            return
        row = await self._db.fetch_one(sa.select(t.jobs).where(t.jobs.c.id == job_id))
        assert row is not None
        job = JobRecord.from_row(row)
        outcome: tuple[dict[str, Any] | None, str | None] | None = None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._keep_lease, job.id, group.cancel_scope)
                outcome = await self._execute(job)
                group.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):  # this process is stopping: say so in the row
                await self._finish(job.id, None, INTERRUPTED, phase="interrupted")
            raise
        if outcome is not None:  # None: the lease was lost, and the job failed by someone else
            await self._finish(job.id, *outcome)

    async def _execute(self, job: JobRecord) -> tuple[dict[str, Any] | None, str | None]:
        try:
            return await self._dispatch(job, Progress(self._db, job.id)), None
        except QarionError as exc:
            return None, exc.detail
        except Exception as exc:  # a job must end with a reason, never hang "running"
            log.exception("job %s (%s) failed", job.id, job.kind)
            return None, f"Unexpected error ({exc.__class__.__name__})."

    async def _keep_lease(self, job_id: str, scope: anyio.CancelScope) -> None:
        while True:
            await anyio.sleep(self.lease.total_seconds() / 3)
            renewed = await self._db.execute(
                t.jobs.update()
                .where(t.jobs.c.id == job_id, t.jobs.c.claimed_by == self.runner, t.jobs.c.status == "running")
                .values(lease_until=utcnow() + self.lease)
            )
            if not renewed:
                log.error("job %s was taken from this runner (its lease ran out); stopping it", job_id)
                scope.cancel()
                return

    async def _finish(self, job_id: str, result: dict[str, Any] | None, error: str | None, *,
                      phase: str = "failed") -> None:  # fmt: skip
        values: dict[str, Any] = {"finished_at": utcnow(), "lease_until": None}
        if error is None:
            values.update(status="completed", percent=100, phase="completed", result=result)
        else:
            values.update(status="failed", phase=phase, error_message=error)
        await self._db.execute(
            t.jobs.update().where(t.jobs.c.id == job_id, t.jobs.c.claimed_by == self.runner).values(**values)
        )

    # -- recovering -----------------------------------------------------------------------------

    async def recover(self, *, queued_for: float) -> None:
        """Fail the running jobs whose runner is gone, and offer again the jobs queued for at
        least ``queued_for`` seconds."""
        now = utcnow()
        running = await self._db.fetch_all(
            sa.select(t.jobs.c.id, t.jobs.c.claimed_by, t.jobs.c.lease_until).where(t.jobs.c.status == "running")
        )
        for row in running:
            if self._abandoned(row["claimed_by"], row["lease_until"], now):
                log.warning("job %s lost its runner (%s); marking it failed", row["id"], row["claimed_by"])
                await self._db.execute(
                    t.jobs.update()
                    .where(t.jobs.c.id == row["id"], t.jobs.c.status == "running")
                    .where(sa.or_(t.jobs.c.claimed_by == row["claimed_by"], t.jobs.c.claimed_by.is_(None)))
                    .values(status="failed", phase="interrupted", error_message=INTERRUPTED, finished_at=now)
                )
        waiting = await self._db.fetch_all(
            sa.select(t.jobs.c.id)
            .where(t.jobs.c.status == "queued", t.jobs.c.created_at <= now - timedelta(seconds=queued_for))
            .order_by(t.jobs.c.created_at)
        )
        for row in waiting:
            await self._submit(row["id"])

    def _abandoned(self, claimed_by: str | None, lease_until: datetime | None, now: datetime) -> bool:
        if claimed_by is None or lease_until is None or lease_until < now:
            return True  # claimed by no one (an older release), or not renewed in time
        if claimed_by == self.runner:
            return False
        host, _, rest = claimed_by.partition(":")
        pid = rest.partition(":")[0]
        return host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process's id with another token: an earlier process that had it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
