"""Where queued jobs run: in this process's task group ("local"), or on arq workers fed from
Redis ("arq"). Both end in ``JobQueue.run``, which claims the row, so a job offered twice (by a
retry, a restart or two replicas) still runs once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup

from qarion_pypi.config import Settings
from qarion_pypi.jobs.queue import JobQueue


class LocalLauncher:
    """Runs each job in the given task group, at most ``concurrency`` at a time."""

    def __init__(self, run: Callable[[str], Awaitable[None]], group: TaskGroup, concurrency: int) -> None:
        self._run = run
        self._group = group
        self._limit = anyio.Semaphore(concurrency)
        self._pending: set[str] = set()  # offered again while waiting: still one task

    async def submit(self, job_id: str) -> None:
        if job_id in self._pending:
            return
        self._pending.add(job_id)
        self._group.start_soon(self._run_one, job_id)

    async def _run_one(self, job_id: str) -> None:
        try:
            async with self._limit:
                await self._run(job_id)
        finally:
            self._pending.discard(job_id)


@asynccontextmanager
async def running_jobs(queue: JobQueue, settings: Settings, *, worker: bool) -> AsyncIterator[None]:
    """Jobs can be queued (and, with ``worker``, run here) while this lasts. On exit, jobs still
    running here are stopped and marked interrupted before it returns."""
    async with anyio.create_task_group() as group:
        if settings.jobs_backend == "arq":
            from qarion_pypi.jobs import arq_backend

            async with arq_backend.connected(queue, settings, group, worker=worker):
                yield
        else:
            queue.launcher = LocalLauncher(queue.run, group, settings.jobs_concurrency)
            try:
                yield
            finally:
                queue.launcher = None
        group.cancel_scope.cancel()
