"""The composition root: settings in, a pure-ASGI Starlette app out."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount

from qarion_pypi import housekeeping
from qarion_pypi.api import client, health, metrics, routes
from qarion_pypi.api.guard import RefuseControlCharacters
from qarion_pypi.api.http import API_PREFIX, error_response
from qarion_pypi.auth.sealing import Sealer, secret_from
from qarion_pypi.config import Settings
from qarion_pypi.context import Context
from qarion_pypi.db import Database
from qarion_pypi.db.memo import Memo
from qarion_pypi.errors import QarionError, Unavailable
from qarion_pypi.jobs.launch import running_jobs
from qarion_pypi.jobs.queue import JobQueue, JobRecord, Progress
from qarion_pypi.observe.requests import RequestLog, request_id
from qarion_pypi.repositories import cooldown, core_metadata
from qarion_pypi.repositories import settings as repository_settings
from qarion_pypi.repositories.builder import RepositoryBuilder
from qarion_pypi.scanning import blocking, scans
from qarion_pypi.services.accounts import users
from qarion_pypi.services.catalog import retention, uploads
from qarion_pypi.services.imports import importer
from qarion_pypi.simple.cache import PageCache
from qarion_pypi.storage import BlobStore, configured_store
from qarion_pypi.storage.base import STALE_STAGING_SECONDS
from qarion_pypi.upstream.http import Outbound
from qarion_pypi.upstream.policy import OutboundPolicy
from qarion_pypi.web import pages, render

log = logging.getLogger("qarion_pypi")

JOB_HANDLERS = {
    retention.JOB_KIND: retention.run_job,
    importer.JOB_KIND: importer.run_job,
    scans.JOB_KIND: scans.run_job,
}


async def _upgrade_to_3(db: Database) -> None:
    await core_metadata.backfill(db)
    await repository_settings.move_stored_credentials(db)


# Data changes that come with a schema version (run once when an older database is opened).
SCHEMA_UPGRADES = {3: _upgrade_to_3, 8: uploads.fill_in_canonical_versions}
# What every repository passes through on its way to package clients, in order.
REPOSITORY_WRAPPERS = (blocking.wrap, cooldown.wrap)


def build_context(settings: Settings, blobs: BlobStore | None = None) -> Context:
    """Everything the services need; ``blobs`` replaces the configured store (tests' fakes)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, lock_timeout=settings.database_lock_timeout)
    ctx = Context(
        settings=settings,
        db=db,
        blobs=blobs or configured_store(settings),
        pages=PageCache(settings.page_cache_entries),
        memo=Memo(db),
        sealer=Sealer(secret_from(settings.secret_key, settings.data_dir)),
        http=Outbound(
            OutboundPolicy.for_upstream(
                settings.upstream_index_url, *settings.oidc_issuers, allow_private=settings.outbound_allow_private
            ),
            netrc=settings.upstream_netrc,
        ),
    )

    async def dispatch(job: JobRecord, progress: Progress) -> dict[str, Any]:
        handler = JOB_HANDLERS.get(job.kind)
        if handler is None:
            raise Unavailable(f"No handler for jobs of kind {job.kind!r}.")
        return await handler(ctx, job, progress)

    ctx.jobs = JobQueue(db, dispatch, lease_seconds=settings.jobs_lease_seconds)
    ctx.metrics.watch_page_cache(lambda: (ctx.pages.hits, ctx.pages.misses))
    db.pool_waits.observe = ctx.metrics.pool_waits.observe
    return ctx


async def open_context(ctx: Context) -> str | None:
    """Connect and prepare the schema; returns a newly generated admin key, if any."""
    await ctx.db.connect()
    try:
        await ctx.db.create_schema(SCHEMA_UPGRADES)
        await repository_settings.seal_stored_credentials(ctx.db, ctx.sealer)
        swept = await ctx.blobs.sweep_staging(STALE_STAGING_SECONDS)
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


async def _error(request: Request, exc: Exception) -> Response:
    """Domain errors as the surface they happen on speaks: JSON, plain text, or a page."""
    assert isinstance(exc, QarionError)
    if request.url.path.startswith(API_PREFIX) or request.url.path in (health.PATH, metrics.PATH):
        return error_response(request, exc)
    return await render.error_page(request, exc)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure (logged with its traceback by Starlette): the request id, so the
    caller's report finds the log lines, and nothing else."""
    rid = request_id(request.scope)
    return PlainTextResponse(f"Internal server error (request {rid}).", status_code=500, headers={"X-Request-ID": rid})


def create_app(settings: Settings, blobs: BlobStore | None = None) -> Starlette:
    ctx = build_context(settings, blobs)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        key = await open_context(ctx)
        if key:
            announce_admin_key(key)
        try:
            async with (
                anyio.create_task_group() as group,
                running_jobs(ctx.jobs, settings, worker=settings.jobs_worker_in_server),
            ):
                await housekeeping.recover_jobs(ctx, queued_for=0)
                group.start_soon(housekeeping.run, ctx)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
            await housekeeping.flush_key_usage(ctx)
        finally:
            await ctx.http.aclose()
            await ctx.db.disconnect()

    app = Starlette(
        routes=[
            *health.routes,
            *metrics.routes,
            Mount(API_PREFIX, routes=[*client.routes, *routes.routes]),
            *pages.routes,
        ],
        exception_handlers={QarionError: _error, Exception: _internal_error},
        middleware=[
            Middleware(RequestLog, metrics=ctx.metrics),
            Middleware(RefuseControlCharacters),
        ],
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.repositories = RepositoryBuilder(ctx, REPOSITORY_WRAPPERS)
    return app
