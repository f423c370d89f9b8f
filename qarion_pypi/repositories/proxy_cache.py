"""What a proxy keeps of its upstream: project pages (fresh for ``cache_ttl``, the last good one
when the upstream fails) and the files those pages list (rows first, verified bytes once fetched)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.sealing import SealBroken
from qarion_pypi.context import Context
from qarion_pypi.db import Database, Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid, new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Unavailable
from qarion_pypi.repositories.records import ProxySettings, RepositoryRecord
from qarion_pypi.simple.model import FileEntry, ProjectPage
from qarion_pypi.upstream.http import AuthedClient, UpstreamError
from qarion_pypi.upstream.simple import fetch_project


def settings(record: RepositoryRecord) -> ProxySettings:
    assert record.proxy is not None, "only proxy repositories have a proxy cache"
    return record.proxy


def upstream_client(ctx: Context, record: RepositoryRecord) -> AuthedClient:
    """The proxy's way to its upstream: its credentials go to the upstream's own origin only."""
    proxy = settings(record)
    credentials = None
    if proxy.upstream_username:
        try:
            credentials = (proxy.upstream_username, ctx.sealer.unseal(proxy.upstream_password or ""))
        except SealBroken:
            raise Unavailable(
                "This proxy's upstream password cannot be read: the server's secret_key is not the one it was "
                "stored with. Set the old [auth] secret_key again, or store the password again."
            ) from None
    return ctx.http.with_auth(credentials, origin_of=proxy.remote_url)


_THIS_PAGE = (
    t.proxy_pages.c.repository_id == sa.bindparam("repository"),
    t.proxy_pages.c.normalized_name == sa.bindparam("name"),
)
_PAGE = sa.select(t.proxy_pages).where(*_THIS_PAGE)
_TOUCH_PAGE = t.proxy_pages.update().where(*_THIS_PAGE).values(fetched_at=sa.bindparam("now"))
_DROP_PAGE = t.proxy_pages.delete().where(*_THIS_PAGE)
_OF_PROJECT = (
    t.proxy_files.c.repository_id == sa.bindparam("repository"),
    t.proxy_files.c.normalized_name == sa.bindparam("name"),
)
_FILES = sa.select(t.proxy_files).where(*_OF_PROJECT)
_KNOWN_FILES = sa.select(
    t.proxy_files.c.id, t.proxy_files.c.filename, t.proxy_files.c.sha256, t.proxy_files.c.url,
    t.proxy_files.c.upstream_metadata,
).where(*_OF_PROJECT)  # fmt: skip
_MOVED_FILE = (
    t.proxy_files.update()
    .where(t.proxy_files.c.id == sa.bindparam("file"))
    .values(url=sa.bindparam("new_url"), upstream_metadata=sa.bindparam("new_metadata"))
)
_FILE = sa.select(t.proxy_files).where(
    t.proxy_files.c.id == sa.bindparam("file"), t.proxy_files.c.repository_id == sa.bindparam("repository")
)


async def project_page(ctx: Context, record: RepositoryRecord, name: str) -> tuple[ProjectPage, list[Row]] | None:
    """The upstream page (from cache while fresh; the last good one when upstream fails) and the
    proxy_files rows of its files; None when the project is unknown."""
    this = {"repository": record.id, "name": name}
    cached = await ctx.db.fetch_one(_PAGE, this)
    if cached is None or utcnow() - cached["fetched_at"] >= timedelta(seconds=settings(record).cache_ttl):
        cached = await _refresh(ctx, record, name, cached)
    if cached is None:
        return None
    return _page_from_document(cached["document"]), await ctx.db.fetch_all(_FILES, this)


async def _refresh(ctx: Context, record: RepositoryRecord, name: str, cached: Row | None) -> Row | None:
    proxy = settings(record)
    try:
        fetched = await fetch_project(
            upstream_client(ctx, record), proxy.remote_url, name, cached["etag"] if cached else None
        )
    except UpstreamError:
        ctx.metrics.upstream_errors.inc()
        return cached  # stale on error: the last good page, or nothing if never seen
    now = utcnow()
    this = {"repository": record.id, "name": name}
    if fetched.not_modified and cached is not None:
        await ctx.db.execute(_TOUCH_PAGE, {**this, "now": now})
        return {**cached, "fetched_at": now}
    if fetched.page is None:
        return None
    row = {"repository_id": record.id, "normalized_name": name, "etag": fetched.etag, "fetched_at": now,
           "document": _document(fetched.page)}  # fmt: skip
    async with ctx.db.transaction():
        await ctx.db.lock("proxy-page", record.id, name)  # replicas refreshing it at once take turns
        await ctx.db.execute(_DROP_PAGE, this)
        await ctx.db.insert(t.proxy_pages, row)
        await _remember_files(ctx.db, record.id, name, fetched.page.files)
    return row


async def _remember_files(db: Database, repository_id: str, name: str, entries: list[FileEntry]) -> None:
    """A row for each file the page lists (each once: ``fetch_project`` drops repeats; a row's id
    is the file's link): new files added, a known file's URL and metadata state brought up to
    date. A changed hash for a known filename is refused, as is a filename another project of
    this proxy already has: a file's bytes never change."""
    rows = await db.fetch_all(_KNOWN_FILES, {"repository": repository_id, "name": name})
    known = {row["filename"]: row for row in rows}
    for entry in entries:
        metadata = (
            entry.core_metadata if isinstance(entry.core_metadata, str) else ("true" if entry.core_metadata else None)
        )
        row = known.get(entry.filename)
        if row is None:
            values = {"id": new_id(), "repository_id": repository_id, "normalized_name": name, "url": entry.url,
                      "filename": entry.filename, "sha256": entry.sha256, "upstream_metadata": metadata}  # fmt: skip
            await db.insert_if_absent(t.proxy_files, values)  # nothing when another project has it
        elif row["sha256"] == entry.sha256 and (row["url"], row["upstream_metadata"]) != (entry.url, metadata):
            await db.execute(_MOVED_FILE, {"file": row["id"], "new_url": entry.url, "new_metadata": metadata})


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
                       versions=document.get("versions", []), status=document.get("status", "active"),
                       status_reason=document.get("status_reason"))  # fmt: skip


async def cached_projects(db: Database, record: RepositoryRecord) -> list[str]:
    rows = await db.fetch_all(
        sa.select(t.proxy_pages.c.normalized_name)
        .where(t.proxy_pages.c.repository_id == record.id)
        .order_by(t.proxy_pages.c.normalized_name)
    )
    return [row["normalized_name"] for row in rows]


async def file_row(db: Database, record: RepositoryRecord, file_id: str) -> Row | None:
    if not is_uuid(file_id):
        return None
    return await db.fetch_one(_FILE, {"file": file_id, "repository": record.id}, quick=True)


async def set_file(db: Database, file_id: str, **values: Any) -> None:
    """Record what became known of a proxied file: its cached blob, its core metadata."""
    await db.execute(t.proxy_files.update().where(t.proxy_files.c.id == file_id).values(**values))
