"""The job queue. Jobs are rows; this process runs them in its own task group.

The queue knows the database and one ``dispatch`` function, which the composition root builds
from each kind's handler; it knows no service. A handler reports progress through ``Progress``;
every report is written to the row, so a status read from any replica sees it. On start, jobs a
previous process left ``running`` are marked failed with a reason (their handlers did not promise
to be resumable) and ``queued`` ones are started.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
import sqlalchemy as sa
from anyio.abc import TaskGroup

from qarion_pypi.db import Database, Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid, new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import NotFound, QarionError, Unavailable

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


class JobQueue:
    def __init__(self, db: Database, dispatch: Dispatch, concurrency: int = 2) -> None:
        self._db = db
        self._dispatch = dispatch
        self._limit = anyio.Semaphore(concurrency)
        self._group: TaskGroup | None = None

    async def attach(self, group: TaskGroup) -> None:
        """Adopt what a previous process left behind, then accept work."""
        await self._db.execute(
            t.jobs.update()
            .where(t.jobs.c.status == "running")
            .values(status="failed", error_message=INTERRUPTED, phase="interrupted", finished_at=utcnow())
        )
        self._group = group
        for row in await self._db.fetch_all(sa.select(t.jobs).where(t.jobs.c.status == "queued")):
            group.start_soon(self._run, JobRecord.from_row(row))

    def stop(self) -> None:
        self._group = None

    async def enqueue(
        self, kind: str, params: dict[str, Any], *, repository_id: str | None, created_by_id: str | None
    ) -> str:
        """Add a job and start it; Unavailable (503) when this process runs no queue."""
        if self._group is None:
            raise Unavailable("The job queue is not running; try again shortly.")
        job = await self.add(kind, params, repository_id=repository_id, created_by_id=created_by_id)
        self.start(job)
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

    def start(self, job: JobRecord) -> None:
        """Run a committed job now; without a running queue it waits, queued, for the next start."""
        if self._group is not None:
            self._group.start_soon(self._run, job)

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

    async def _run(self, job: JobRecord) -> None:
        async with self._limit:
            await self._finish(job, *await self._execute(job))

    async def _execute(self, job: JobRecord) -> tuple[dict[str, Any] | None, str | None]:
        await self._db.execute(
            t.jobs.update().where(t.jobs.c.id == job.id).values(status="running", phase="starting", started_at=utcnow())
        )
        try:
            return await self._dispatch(job, Progress(self._db, job.id)), None
        except QarionError as exc:
            return None, exc.detail
        except Exception as exc:  # a job must end with a reason, never hang "running"
            log.exception("job %s (%s) failed", job.id, job.kind)
            return None, f"Unexpected error ({exc.__class__.__name__})."

    async def _finish(self, job: JobRecord, result: dict[str, Any] | None, error: str | None) -> None:
        values: dict[str, Any] = {"finished_at": utcnow()}
        if error is None:
            values.update(status="completed", percent=100, phase="completed", result=result)
        else:
            values.update(status="failed", phase="failed", error_message=error)
        await self._db.execute(t.jobs.update().where(t.jobs.c.id == job.id).values(**values))
