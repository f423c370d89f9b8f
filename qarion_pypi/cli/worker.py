"""``qarion-pypi worker``: runs the jobs queued on Redis (``[jobs] backend = "arq"``)."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

import anyio

from qarion_pypi import housekeeping
from qarion_pypi.cli.common import data_options, with_context
from qarion_pypi.config import ConfigError, Settings
from qarion_pypi.context import Context
from qarion_pypi.jobs.launch import running_jobs


def add(commands: Any) -> None:
    worker = commands.add_parser("worker", help="run background jobs queued on Redis (jobs backend arq)")
    data_options(worker)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.jobs_backend != "arq":
        raise ConfigError(
            'the worker runs jobs queued on Redis: set [jobs] backend = "arq" and redis_url '
            "(with the local backend, every server runs the jobs it queues)"
        )
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    anyio.run(with_context, settings, _work)
    return 0


async def _work(ctx: Context) -> None:
    async with anyio.create_task_group() as group:
        group.start_soon(_stop_on_signal, group.cancel_scope)
        async with running_jobs(ctx.jobs, ctx.settings, worker=True):
            await housekeeping.recover_jobs(ctx, queued_for=0)
            print(f"qarion-pypi worker: taking jobs from queue {ctx.settings.jobs_queue_name!r}", flush=True)
            await housekeeping.run(ctx)


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    """SIGTERM or SIGINT: stop taking jobs; the ones running are marked interrupted."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            scope.cancel()
            return
