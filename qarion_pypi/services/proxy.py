"""Proxy repositories: upstream pages cached with a TTL, files cached after their hash checks out."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
import httpx
import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.types import utcnow
from qarion_pypi.distributions.archives import ArchiveLimits, read_core_metadata
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest, NotFound, Unavailable
from qarion_pypi.services import core_metadata
from qarion_pypi.services.naming import new_id
from qarion_pypi.simple.model import FileEntry, ProjectPage
from qarion_pypi.upstream.policy import OutboundRefused
from qarion_pypi.upstream.simple import UpstreamError, fetch_project

DEFAULT_TTL = 3600
log = logging.getLogger(__name__)


def _auth(repository: Row) -> tuple[str, str] | None:
    if repository["upstream_username"]:
        return repository["upstream_username"], repository["upstream_password"] or ""
    return None


async def project_page(ctx: Context, repository: Row, name: str) -> tuple[ProjectPage, list[Row]] | None:
    """The upstream page (from cache while fresh; the last good one when upstream fails) and the
    proxy_files rows of its files; None when the project is unknown."""
    cached = await ctx.db.fetch_one(
        sa.select(t.proxy_pages).where(
            t.proxy_pages.c.repository_id == repository["id"], t.proxy_pages.c.normalized_name == name
        )
    )
    ttl = timedelta(seconds=repository["cache_ttl"] if repository["cache_ttl"] is not None else DEFAULT_TTL)
    if cached is None or utcnow() - cached["fetched_at"] >= ttl:
        cached = await _refresh(ctx, repository, name, cached)
    if cached is None:
        return None
    page = _page_from_document(cached["document"])
    files = await ctx.db.fetch_all(
        sa.select(t.proxy_files).where(
            t.proxy_files.c.repository_id == repository["id"], t.proxy_files.c.normalized_name == name
        )
    )
    return page, files


async def _refresh(ctx: Context, repository: Row, name: str, cached: Row | None) -> Row | None:
    client = ctx.http.with_auth(_auth(repository))
    try:
        fetched = await fetch_project(client, repository["remote_url"], name, cached["etag"] if cached else None)
    except (UpstreamError, OutboundRefused):
        return cached  # stale on error: the last good page, or nothing if never seen
    now = utcnow()
    if fetched.not_modified and cached is not None:
        await ctx.db.execute(
            t.proxy_pages.update()
            .where(t.proxy_pages.c.repository_id == repository["id"], t.proxy_pages.c.normalized_name == name)
            .values(fetched_at=now)
        )
        return {**cached, "fetched_at": now}
    if fetched.page is None:
        return None
    document = _document(fetched.page)
    async with ctx.db.transaction():
        await ctx.db.execute(
            t.proxy_pages.delete().where(
                t.proxy_pages.c.repository_id == repository["id"], t.proxy_pages.c.normalized_name == name
            )
        )
        row = {"repository_id": repository["id"], "normalized_name": name, "etag": fetched.etag, "fetched_at": now,
               "document": document}  # fmt: skip
        await ctx.db.execute(t.proxy_pages.insert().values(**row))
        for entry in fetched.page.files:
            await _remember_file(ctx, repository["id"], name, entry)
    return row


async def _remember_file(ctx: Context, repository_id: str, name: str, entry: FileEntry) -> None:
    metadata = (
        entry.core_metadata if isinstance(entry.core_metadata, str) else ("true" if entry.core_metadata else None)
    )
    values = {"normalized_name": name, "url": entry.url, "sha256": entry.sha256, "upstream_metadata": metadata}
    known = await ctx.db.fetch_one(
        sa.select(t.proxy_files.c.id, t.proxy_files.c.sha256).where(
            t.proxy_files.c.repository_id == repository_id, t.proxy_files.c.filename == entry.filename
        )
    )
    if known is None:
        await ctx.db.execute(
            t.proxy_files.insert().values(id=new_id(), repository_id=repository_id, filename=entry.filename, **values)
        )
    elif known["sha256"] == entry.sha256:
        await ctx.db.execute(t.proxy_files.update().where(t.proxy_files.c.id == known["id"]).values(**values))
    # a changed hash for a known filename is refused: a file's bytes never change


def _document(page: ProjectPage) -> dict[str, Any]:
    document = asdict(page)
    for entry in document["files"]:
        if entry["upload_time"] is not None:
            entry["upload_time"] = entry["upload_time"].isoformat()
    plain: dict[str, Any] = json.loads(json.dumps(document))
    return plain


def _page_from_document(document: dict[str, Any]) -> ProjectPage:
    files = [
        FileEntry(**{**f, "upload_time": datetime.fromisoformat(f["upload_time"]) if f["upload_time"] else None})
        for f in document["files"]
    ]
    return ProjectPage(name=document["name"], normalized_name=document["normalized_name"], files=files,
                       versions=document.get("versions", []))  # fmt: skip


async def cached_projects(ctx: Context, repository: Row) -> list[str]:
    rows = await ctx.db.fetch_all(
        sa.select(t.proxy_pages.c.normalized_name)
        .where(t.proxy_pages.c.repository_id == repository["id"])
        .order_by(t.proxy_pages.c.normalized_name)
    )
    return [row["normalized_name"] for row in rows]


async def get_file(ctx: Context, file_id: str) -> Row:
    row = await ctx.db.fetch_one(
        sa.select(t.proxy_files, t.repositories.c.space_id, t.repositories.c.project_scope_id)
        .join(t.repositories, t.repositories.c.id == t.proxy_files.c.repository_id)
        .where(t.proxy_files.c.id == file_id)
    )
    if row is None:
        raise NotFound("File not found.")
    return row


async def cached_blob(ctx: Context, file: Row) -> str | None:
    if file["blob_sha256"] and await ctx.blobs.exists(file["blob_sha256"]):
        return str(file["blob_sha256"])
    return None


async def ensure_cached(ctx: Context, repository: Row, file: Row) -> str:
    """The blob sha256 of a proxied file, downloading and verifying it first if needed."""
    cached = await cached_blob(ctx, file)
    if cached is not None:
        return cached
    async for _ in stream_through(ctx, file, await open_upstream(ctx, repository, file)):
        pass
    fresh = await ctx.db.fetch_one(sa.select(t.proxy_files).where(t.proxy_files.c.id == file["id"]))
    cached = await cached_blob(ctx, fresh) if fresh is not None else None
    if cached is None:
        raise Unavailable("The upstream file does not match its published sha256; it was not cached.")
    return cached


async def open_upstream(ctx: Context, repository: Row, file: Row) -> AsyncIterator[bytes]:
    """Start fetching a file from the upstream; errors before the first byte are 503s."""
    client = ctx.http.with_auth(_auth(repository))
    stack = AsyncExitStack()
    try:
        response = await stack.enter_async_context(client.stream("GET", file["url"], follow_redirects=True))
    except (httpx.HTTPError, OutboundRefused) as exc:
        await stack.aclose()
        raise Unavailable(f"The upstream could not be reached ({exc.__class__.__name__}).") from None
    if response.status_code != 200:
        await stack.aclose()
        raise Unavailable(f"The upstream answered {response.status_code} for this file.")

    async def chunks() -> AsyncIterator[bytes]:
        async with stack:
            async for chunk in response.aiter_bytes(1024 * 1024):
                yield chunk

    return chunks()


async def stream_through(ctx: Context, file: Row, upstream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield the upstream's bytes (from ``open_upstream``) as they arrive while staging them; keep
    them only if their sha256 is the published one. A mismatch or a dropped client leaves nothing."""
    blob = ctx.blobs.incoming()
    try:
        async for chunk in upstream:
            if blob.size + len(chunk) > ctx.settings.max_upload_bytes:
                raise Unavailable("The upstream file is larger than this server accepts.")
            await blob.write(chunk)
            yield chunk
        digests = await blob.finish()
        if digests.sha256 != file["sha256"]:
            log.warning("upstream file %s does not match its published sha256; not cached", file["url"])
            return
        await ctx.blobs.commit(blob)
        await ctx.db.execute(
            t.proxy_files.update().where(t.proxy_files.c.id == file["id"]).values(blob_sha256=digests.sha256)
        )
    finally:
        blob.discard()


async def metadata(ctx: Context, repository: Row, file: Row) -> bytes:
    """PEP 658 metadata: cached, else the upstream's (hash-checked), else read out of the wheel."""
    if file["metadata_sha256"]:
        return await core_metadata.load(ctx, file["metadata_sha256"])
    raw = await _upstream_metadata(ctx, repository, file) if file["upstream_metadata"] else None
    if raw is None:
        if not file["filename"].endswith(".whl"):
            raise NotFound("File not found.")
        digest = await ensure_cached(ctx, repository, file)
        path = ctx.blobs.local_path(digest)
        assert path is not None
        limits = ArchiveLimits(ctx.settings.max_metadata_bytes, ctx.settings.max_compression_ratio)
        try:
            raw = await anyio.to_thread.run_sync(
                read_core_metadata, path, parse_dist_filename(file["filename"]), limits
            )
        except BadRequest:
            raise NotFound("File not found.") from None
    stored = await core_metadata.store(ctx, raw)
    await ctx.db.execute(t.proxy_files.update().where(t.proxy_files.c.id == file["id"]).values(metadata_sha256=stored))
    return raw


async def _upstream_metadata(ctx: Context, repository: Row, file: Row) -> bytes | None:
    try:
        response = await ctx.http.with_auth(_auth(repository)).get(file["url"] + ".metadata", follow_redirects=True)
    except (httpx.HTTPError, OutboundRefused):
        return None
    if response.status_code != 200 or len(response.content) > ctx.settings.max_metadata_bytes:
        return None
    expected = file["upstream_metadata"]
    if expected != "true" and hashlib.sha256(response.content).hexdigest() != expected:
        return None
    return response.content
