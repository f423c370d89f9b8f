"""What a running server does by itself, besides answering: writing down key use, sweeping the
staging files and blobs that interrupted uploads left behind, failing jobs whose runner died and
offering again the jobs nobody took."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from qarion_pypi.context import Context
from qarion_pypi.scanning import scans
from qarion_pypi.services.catalog import blobs
from qarion_pypi.storage.base import STALE_STAGING_SECONDS

log = logging.getLogger(__name__)
KEY_USAGE_SECONDS = 10.0
SWEEP_SECONDS = 600.0
# A queued job not taken for this long was lost on its way to a runner (a crash, Redis away).
RESUBMIT_AFTER_SECONDS = 30.0


async def run(ctx: Context) -> None:
    """Forever, in the server's task group; each chore survives the other's failures."""
    async with anyio.create_task_group() as group:
        group.start_soon(_every, KEY_USAGE_SECONDS, "record key use", flush_key_usage, ctx)
        group.start_soon(_every, SWEEP_SECONDS, "sweep crash leftovers", sweep, ctx)
        group.start_soon(_every, ctx.settings.jobs_lease_seconds / 2, "recover jobs", recover_jobs, ctx)


async def flush_key_usage(ctx: Context) -> None:
    await ctx.key_usage.flush(ctx.db)


async def recover_jobs(ctx: Context, queued_for: float = RESUBMIT_AFTER_SECONDS) -> None:
    """Fail the jobs (and their scans) whose runner is gone; offer again the jobs queued for
    ``queued_for`` seconds that nobody took."""
    await ctx.jobs.recover(queued_for=queued_for)
    await scans.fail_interrupted(ctx)


async def sweep(ctx: Context) -> None:
    swept = await ctx.blobs.sweep_staging(STALE_STAGING_SECONDS)
    if swept:
        log.warning("removed %d staging files left by interrupted uploads", swept)
    await blobs.collect_orphans(ctx)


async def _every(seconds: float, what: str, chore: Callable[[Context], Awaitable[None]], ctx: Context) -> None:
    while True:
        await anyio.sleep(seconds)
        try:
            await chore(ctx)
        except Exception:  # the next round tries again; a server does not stop over a chore
            log.exception("could not %s", what)
