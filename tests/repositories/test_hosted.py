"""Hosted repositories as package clients see them, composed by the builder: pages, files,
core metadata, cache keys, scan blocking, and a virtual repository over hosted members."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from packaging.utils import NormalizedName

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.repositories import records
from qarion_pypi.repositories.base import BlobResource, BytesResource, Repository
from qarion_pypi.repositories.builder import RepositoryBuilder
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.scanning import blocking
from qarion_pypi.scanning.policy import update_policy
from qarion_pypi.services.accounts import spaces
from qarion_pypi.services.catalog import repositories, uploads
from tests.support import distbuilder as d

pytestmark = pytest.mark.anyio
SITE = "/api/v1.0"


@pytest.fixture
async def admin(ctx: Context) -> Principal:
    row = await ctx.db.fetch_one(sa.select(t.users).where(t.users.c.username == "admin"))
    assert row is not None
    return Principal(row["id"], "admin", True, api_key_id="")


@pytest.fixture
async def space(ctx: Context, admin: Principal) -> Row:
    return await spaces.create_space(ctx, admin, "Acme", "acme")


async def _hosted(ctx: Context, admin: Principal, space: Row, slug: str) -> RepositoryRecord:
    record, _ = await repositories.create_repository(ctx, admin, space, {"name": slug, "slug": slug})
    return record


async def _upload(ctx: Context, admin: Principal, record: RepositoryRecord, filename: str, content: bytes) -> str:
    blob = ctx.blobs.incoming()
    await blob.write(content)
    await blob.finish()
    outcome = await uploads.accept(ctx, admin, record, uploads.Upload({}, filename, blob, legacy=False))
    return outcome.file.id


async def _build(ctx: Context, record: RepositoryRecord, scan_blocking: bool = False) -> Repository:
    builder = RepositoryBuilder(ctx, (blocking.wrap,) if scan_blocking else ())
    return await builder.build(await records.load(ctx.db, record.id), SITE)


async def test_pages_files_and_metadata(ctx: Context, admin: Principal, space: Row) -> None:
    record = await _hosted(ctx, admin, space, "tools")
    wheel = d.wheel("demo", "1.0")
    file_id = await _upload(ctx, admin, record, "demo-1.0-py3-none-any.whl", wheel)
    await _upload(ctx, admin, record, "demo-2.0.tar.gz", d.sdist("demo", "2.0"))
    repository = await _build(ctx, record)

    assert [p.normalized_name for p in (await repository.project_list()).projects] == ["demo"]
    page = await repository.project_page(NormalizedName("demo"))
    assert page is not None and page.versions == ["1.0", "2.0"]
    entry = next(f for f in page.files if f.filename.endswith(".whl"))
    assert entry.url == f"files/{file_id}/demo-1.0-py3-none-any.whl" and entry.file_id == file_id
    assert await repository.project_page(NormalizedName("absent")) is None

    blob = await repository.resource(file_id, "demo-1.0-py3-none-any.whl")
    assert isinstance(blob, BlobResource) and (await ctx.blobs.open(blob.sha256)) is not None
    metadata = await repository.resource(file_id, "demo-1.0-py3-none-any.whl.metadata")
    assert isinstance(metadata, BytesResource) and metadata.body.startswith(b"Metadata-Version")
    assert await repository.resource(file_id, "other-1.0-py3-none-any.whl") is None
    assert await repository.resource("not-a-uuid", "demo-1.0-py3-none-any.whl") is None


async def test_the_cache_key_moves_with_every_change(ctx: Context, admin: Principal, space: Row) -> None:
    record = await _hosted(ctx, admin, space, "tools")
    before = (await _build(ctx, record)).cache_key()
    await _upload(ctx, admin, record, "demo-1.0-py3-none-any.whl", d.wheel())
    after = (await _build(ctx, record)).cache_key()
    assert before is not None and after is not None and before != after


async def test_blocked_files_are_not_there_for_clients(ctx: Context, admin: Principal, space: Row) -> None:
    ctx.settings = dataclasses.replace(ctx.settings, scanning_enabled=True)
    record = await _hosted(ctx, admin, space, "tools")
    bad = await _upload(ctx, admin, record, "demo-1.0-py3-none-any.whl", d.wheel("demo", "1.0"))
    good = await _upload(ctx, admin, record, "demo-2.0-py3-none-any.whl", d.wheel("demo", "2.0"))
    policy = {"enabled": True, "enforcement_mode": "block_by_threshold", "severity_threshold": "high"}
    await update_policy(ctx, admin, await records.load(ctx.db, record.id), policy)
    await ctx.db.execute(t.files.update().where(t.files.c.id == bad).values(scan_status="completed",
                                                                          scan_max_severity="critical"))  # fmt: skip
    await ctx.db.execute(t.files.update().where(t.files.c.id == good).values(scan_status="completed"))

    blocked = await _build(ctx, record, scan_blocking=True)
    page = await blocked.project_page(NormalizedName("demo"))
    assert page is not None and [f.filename for f in page.files] == ["demo-2.0-py3-none-any.whl"]
    assert page.versions == ["2.0"]
    assert await blocked.resource(bad, "demo-1.0-py3-none-any.whl") is None
    assert await blocked.resource(good, "demo-2.0-py3-none-any.whl") is not None
    unblocked = await _build(ctx, record)  # the same repository without the wrapper
    assert await unblocked.resource(bad, "demo-1.0-py3-none-any.whl") is not None


async def test_a_virtual_repository_over_hosted_members(ctx: Context, admin: Principal, space: Row) -> None:
    first = await _hosted(ctx, admin, space, "first")
    second = await _hosted(ctx, admin, space, "second")
    await _upload(ctx, admin, first, "lib-1.0-py3-none-any.whl", d.wheel("lib", "1.0"))
    other = await _upload(ctx, admin, second, "lib-9.0-py3-none-any.whl", d.wheel("lib", "9.0"))
    await _upload(ctx, admin, second, "tool-1.0-py3-none-any.whl", d.wheel("tool", "1.0"))
    fields = {"name": "all", "slug": "all", "kind": "virtual", "members": [first.id, second.id]}
    virtual_record, _ = await repositories.create_repository(ctx, admin, space, fields)
    virtual = await _build(ctx, virtual_record)

    page = await virtual.project_page(NormalizedName("lib"))
    assert page is not None and [f.filename for f in page.files] == ["lib-1.0-py3-none-any.whl"]
    assert [p.normalized_name for p in (await virtual.project_list()).projects] == ["lib", "tool"]
    assert isinstance(await virtual.resource(other, "lib-9.0-py3-none-any.whl"), BlobResource)
    assert virtual.cache_key() is not None  # every member is hosted, so pages can be cached
