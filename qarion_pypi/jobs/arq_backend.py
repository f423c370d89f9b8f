"""Jobs on arq: queued on Redis, run by whichever worker takes them first.

The arq job carries only the job's id (also its arq id, so one job is queued on Redis once); the
row stays the job's truth. arq's own retries and time limit are off: a worker that dies leaves a
claimed row, which ``JobQueue.recover`` fails once its lease runs out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio.abc import TaskGroup
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from qarion_pypi.config import Settings
from qarion_pypi.jobs.queue import JobQueue

RUN_JOB = "qarion_run_job"
# arq cancels a job after its timeout; imports of large projects may take hours.
_NO_TIME_LIMIT = 7 * 24 * 3600


class ArqLauncher:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self._pool = pool
        self._queue_name = queue_name

    async def submit(self, job_id: str) -> None:
        await self._pool.enqueue_job(RUN_JOB, job_id, _job_id=job_id, _queue_name=self._queue_name)


def redis_settings(settings: Settings) -> RedisSettings:
    # Connection attempts are bounded, so a server whose Redis is down still starts and answers.
    return dataclasses.replace(RedisSettings.from_dsn(settings.redis_url), conn_retries=2, conn_timeout=2)


def build_worker(queue: JobQueue, settings: Settings) -> Worker:
    async def run_job(_: dict[str, Any], job_id: str) -> None:
        await queue.run(job_id)

    return Worker(
        functions=[func(run_job, name=RUN_JOB, max_tries=1, timeout=_NO_TIME_LIMIT)],  # type: ignore[arg-type]
        queue_name=settings.jobs_queue_name,
        redis_settings=redis_settings(settings),
        max_jobs=settings.jobs_concurrency,
        handle_signals=False,  # the process's own lifespan stops it
        keep_result=60,
        poll_delay=0.2,
        log_results=False,
    )


@asynccontextmanager
async def connected(queue: JobQueue, settings: Settings, group: TaskGroup, *, worker: bool) -> AsyncIterator[None]:
    pool = await create_pool(redis_settings(settings), default_queue_name=settings.jobs_queue_name)
    queue.launcher = ArqLauncher(pool, settings.jobs_queue_name)
    running = build_worker(queue, settings) if worker else None
    try:
        if running is not None:
            group.start_soon(running.main)
        yield
    finally:
        queue.launcher = None
        if running is not None:
            await running.close()  # cancels its running jobs (marked interrupted) and waits for them
        await pool.aclose()
