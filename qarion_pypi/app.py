"""The composition root: settings in, a pure-ASGI Starlette app out."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.routing import Mount

from qarion_pypi.api import client, health, management
from qarion_pypi.api.http import API_PREFIX, error_response
from qarion_pypi.config import Settings
from qarion_pypi.context import Context
from qarion_pypi.db import Database
from qarion_pypi.db.memo import Memo
from qarion_pypi.errors import QarionError
from qarion_pypi.jobs.queue import JobQueue
from qarion_pypi.scanning import scans
from qarion_pypi.services import imports, retention, users
from qarion_pypi.simple.cache import PageCache
from qarion_pypi.storage import FilesystemBlobStore
from qarion_pypi.upstream.http import Outbound
from qarion_pypi.upstream.policy import OutboundPolicy

log = logging.getLogger("qarion_pypi")

JOB_HANDLERS = {
    retention.JOB_KIND: retention.run_job,
    imports.JOB_KIND: imports.run_job,
    scans.JOB_KIND: scans.run_job,
}


def build_context(settings: Settings) -> Context:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    ctx = Context(
        settings=settings,
        db=db,
        blobs=FilesystemBlobStore(settings.resolved_blob_dir),
        pages=PageCache(settings.page_cache_entries),
        memo=Memo(db),
        http=Outbound(
            OutboundPolicy.for_upstream(settings.upstream_index_url, allow_private=settings.outbound_allow_private),
            netrc=settings.upstream_netrc,
        ),
    )
    ctx.jobs = JobQueue(ctx, JOB_HANDLERS)
    return ctx


async def open_context(ctx: Context) -> str | None:
    """Connect and prepare the schema; returns a newly generated admin key, if any."""
    await ctx.db.connect()
    try:
        await ctx.db.create_schema()
        if isinstance(ctx.blobs, FilesystemBlobStore):
            swept = await ctx.blobs.sweep_staging()
            if swept:
                log.warning("removed %d staging files left by an earlier crash", swept)
        return await users.bootstrap(ctx)
    except BaseException:
        await ctx.db.disconnect()  # open connections' threads would keep the process alive
        raise


def announce_admin_key(key: str) -> None:
    # Printed once, to the terminal that started the server; it is not stored anywhere.
    print(
        "Created platform admin 'admin' with API key (shown only this once):\n"
        f"    {key}\n"
        "Set QARION_PYPI_ADMIN_KEY before the first start to choose it instead.",
        file=sys.stdout,
        flush=True,
    )


def create_app(settings: Settings) -> Starlette:
    ctx = build_context(settings)
    queue = ctx.jobs

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        key = await open_context(ctx)
        if key:
            announce_admin_key(key)
        try:
            async with anyio.create_task_group() as group:
                await queue.attach(group)
                await scans.fail_interrupted(ctx)
                try:
                    yield
                finally:
                    queue.stop()
                    group.cancel_scope.cancel()  # running jobs are marked interrupted on the next start
        finally:
            await ctx.http.aclose()
            await ctx.db.disconnect()

    app = Starlette(
        routes=[*health.routes, Mount(API_PREFIX, routes=[*client.routes, *management.routes])],
        exception_handlers={QarionError: error_response},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
