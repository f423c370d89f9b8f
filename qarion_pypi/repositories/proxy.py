"""A proxy repository: another index's pages, with files served (and cached) through this server.

Pages come from the proxy cache. Files stream through to the first client while they are staged,
and are kept once that client has them, only when their sha256 is the published one; later
clients get the cached blob. In ``redirect`` mode clients are sent to the upstream's URL instead.
Core metadata is the upstream's PEP 658 file (hash-checked) or, for wheels, read out of the
cached wheel, and is kept the same way.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial

import anyio.to_thread
from packaging.utils import NormalizedName

from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.distributions.archives import ArchiveLimits, read_core_metadata
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.distributions.metadata import parse_off_loop
from qarion_pypi.errors import BadRequest, Unavailable
from qarion_pypi.repositories import core_metadata, placement, proxy_cache
from qarion_pypi.repositories.base import (
    METADATA_SUFFIX,
    BlobResource,
    BytesResource,
    RedirectResource,
    Resource,
    StreamResource,
    file_link,
)
from qarion_pypi.repositories.records import FileMode, RepositoryRecord
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage, ResolverMetadata
from qarion_pypi.upstream.download import UpstreamFile
from qarion_pypi.upstream.http import UpstreamError
from qarion_pypi.upstream.metadata import pep658

log = logging.getLogger(__name__)
RESOLVER_KEYS = ("requires_dist", "requires_external", "provides_extra")
# How long a request for a file waits for this process to finish keeping it (normally a few ms).
KEEP_WAIT_SECONDS = 10.0


class ProxyRepository:
    def __init__(self, ctx: Context, record: RepositoryRecord) -> None:
        self._ctx = ctx
        self.record = record
        self._settings = proxy_cache.settings(record)

    def cache_key(self) -> None:
        """Pages follow the upstream, so they are rendered each time (from the proxy cache)."""
        return None

    async def project_list(self) -> ProjectList:
        """The projects fetched so far: an upstream's full list can be enormous."""
        names = await proxy_cache.cached_projects(self._ctx.db, self.record)
        return ProjectList([ProjectEntry(name, name) for name in names])

    async def project_page(self, name: NormalizedName) -> ProjectPage | None:
        found = await proxy_cache.project_page(self._ctx, self.record, name)
        if found is None:
            return None
        page, rows = found
        by_name = {row["filename"]: row for row in rows}
        files = [_entry(entry, by_name[entry.filename]) for entry in page.files if entry.filename in by_name]
        return replace(page, files=files if page.status != "quarantined" else [])

    async def resource(self, file_id: str, filename: str) -> Resource | None:
        await self._ctx.keeping.wait(file_id, KEEP_WAIT_SECONDS)  # just fetched: cached in a moment
        file = await proxy_cache.file_row(self._ctx.db, self.record, file_id)
        if file is None:
            return None
        if filename == file["filename"] + METADATA_SUFFIX:
            return await self._metadata(file) if _offers_metadata(file) else None
        if filename != file["filename"]:
            return None
        if await self._cached_blob(file):
            self._ctx.metrics.proxy_files.labels("hit").inc()
            return BlobResource(file["blob_sha256"])
        self._ctx.metrics.proxy_files.labels("miss").inc()
        if self._settings.file_mode is FileMode.REDIRECT:
            return RedirectResource(file["url"])
        upstream = await self._open(file)  # a 503 here, before any byte is sent
        passing = _PassThrough(self._ctx, file, upstream)
        return StreamResource(passing.chunks(), file["sha256"], passing.settle)

    async def _cached_blob(self, file: Row) -> bool:
        return bool(file["blob_sha256"]) and await self._ctx.blobs.exists(file["blob_sha256"])

    async def _open(self, file: Row) -> UpstreamFile:
        client = proxy_cache.upstream_client(self._ctx, self.record)
        blob = self._ctx.blobs.incoming(sha256_only=True)
        try:
            return await UpstreamFile.open(client, file["url"], blob, max_bytes=self._ctx.settings.max_upload_bytes,
                                           sha256=file["sha256"], name=file["filename"])  # fmt: skip
        except UpstreamError as exc:
            blob.discard()
            self._ctx.metrics.upstream_errors.inc()
            raise Unavailable(f"The upstream file could not be fetched: {exc}.") from None

    async def _ensure_cached(self, file: Row) -> str:
        """The blob of a proxied file, downloading and verifying it first if needed."""
        if await self._cached_blob(file):
            return str(file["blob_sha256"])
        upstream = await self._open(file)
        try:
            await upstream.fetch()
            await keep(self._ctx, file, upstream)
        except UpstreamError as exc:
            raise Unavailable(f"The upstream file could not be cached: {exc}.") from None
        finally:
            await upstream.aclose()
            upstream.blob.discard()
        return str(file["sha256"])

    async def _metadata(self, file: Row) -> BytesResource | None:
        """PEP 658 metadata of a wheel: cached, else the upstream's (hash-checked), else read out
        of the wheel; kept with its resolver fields (for the JSON pages) once the client has it."""
        if file["metadata_sha256"]:
            stored = await core_metadata.load(self._ctx.db, file["metadata_sha256"])
            return BytesResource(stored, file["metadata_sha256"])
        raw = await self._upstream_metadata(file) if file["upstream_metadata"] else None
        if raw is None:
            raw = await self._metadata_from_wheel(file)
            if raw is None:
                return None
        return BytesResource(raw, hashlib.sha256(raw).hexdigest(), settle=partial(self._keep_metadata, file, raw))

    async def _keep_metadata(self, file: Row, raw: bytes) -> None:
        try:
            values: dict[str, object] = {}
            try:
                parsed = await parse_off_loop(raw)
            except BadRequest:
                values["metadata_trusted"] = False
            else:
                values["metadata_trusted"] = parsed.trusted_for(parse_dist_filename(file["filename"]).distribution_type)
                values["dependencies"] = core_metadata.resolver_fields(parsed)
            async with self._ctx.db.transaction():
                values["metadata_sha256"] = await core_metadata.store(self._ctx.db, raw)
                await proxy_cache.set_file(self._ctx.db, file["id"], **values)
        except Exception:  # the client has its answer; the next one fetches it again
            log.exception("the metadata of proxied file %s could not be kept", file["filename"])

    async def _metadata_from_wheel(self, file: Row) -> bytes | None:
        digest = await self._ensure_cached(file)
        dist = parse_dist_filename(file["filename"])
        try:
            async with self._ctx.blobs.local_copy(digest) as path:
                raw: bytes = await anyio.to_thread.run_sync(read_core_metadata, path, dist, self._limits())
        except (BadRequest, FileNotFoundError):
            return None
        return raw

    async def _upstream_metadata(self, file: Row) -> bytes | None:
        client = proxy_cache.upstream_client(self._ctx, self.record)
        expected = file["upstream_metadata"]
        entry = FileEntry(
            file["filename"], file["url"], file["sha256"], 0, core_metadata=True if expected == "true" else expected
        )
        try:
            return await pep658(client, entry, self._limits())
        except UpstreamError:
            return None

    def _limits(self) -> ArchiveLimits:
        return ArchiveLimits.of(self._ctx.settings)


class _PassThrough:
    """A proxied file on its way to its first client: the upstream's bytes as they arrive; once
    the answer has ended, kept if every byte came and matched, and the staging file gone either
    way. The keep (a sync to disk, the blob placed, the row) happens after the client has the
    whole file, so it never waits for it; a request for the file meanwhile waits for the keep."""

    def __init__(self, ctx: Context, file: Row, upstream: UpstreamFile) -> None:
        self._ctx = ctx
        self._file = file
        self._upstream = upstream
        self._done: Callable[[], None] | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._upstream.chunks():
                yield chunk
        except UpstreamError as exc:
            log.warning("proxied file %s not served whole: %s", self._file["url"], exc)
            raise
        self._done = self._ctx.keeping.begin(self._file["id"])  # before the answer ends

    async def settle(self) -> None:
        try:
            if self._done is not None:
                await keep(self._ctx, self._file, self._upstream)
        except Exception:  # the client has its file; the next one fetches it again
            log.exception("proxied file %s was served but could not be kept", self._file["filename"])
        finally:
            self._upstream.blob.discard()
            if self._done is not None:
                self._done()
            try:
                await self._upstream.aclose()
            except Exception:  # the answer has ended: a connection that will not close is only logged
                log.warning("the upstream connection for %s did not close cleanly", self._file["url"], exc_info=True)


async def keep(ctx: Context, file: Row, upstream: UpstreamFile) -> None:
    """Place a proxied file's verified bytes and record them as its cached blob."""
    async with placement.placed(ctx, upstream.blob) as claim, ctx.db.transaction():
        await proxy_cache.set_file(ctx.db, file["id"], blob_sha256=file["sha256"])
        await claim.settle(ctx.db)


def _offers_metadata(row: Row) -> bool:
    """Wheels always: when the upstream has no metadata file it is read out of the cached wheel.
    An sdist only once its metadata is here and PEP 643 lets resolvers trust it, which an
    upstream's page cannot promise."""
    if row["filename"].endswith(".whl"):
        return row["metadata_trusted"] is not False
    return bool(row["metadata_sha256"]) and bool(row["metadata_trusted"])


def _entry(upstream: FileEntry, row: Row) -> FileEntry:
    metadata: str | bool = False
    if _offers_metadata(row):  # PEP 658 allows "true" when the hash is not known yet
        metadata = row["metadata_sha256"] or upstream.core_metadata or True
    fields = row["dependencies"] if metadata and row["metadata_trusted"] else None
    resolver = ResolverMetadata(*(tuple(fields[key]) for key in RESOLVER_KEYS)) if fields else None
    return FileEntry(
        filename=upstream.filename,
        url=file_link(row["id"], upstream.filename),
        sha256=row["sha256"],
        size=upstream.size,
        upload_time=upstream.upload_time,
        requires_python=upstream.requires_python,
        yanked=upstream.yanked,
        core_metadata=metadata,
        file_id=row["id"],
        resolver=resolver,
    )
