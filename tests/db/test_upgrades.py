"""Opening a database of an earlier schema: new columns appear and their data is filled in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from qarion_pypi.app import build_context, open_context
from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.database import SCHEMA_VERSION
from qarion_pypi.errors import BadRequest
from qarion_pypi.services.accounts import spaces
from qarion_pypi.services.catalog import repositories, uploads
from tests.support import distbuilder as d
from tests.support.backends import POSTGRES, StateReader

pytestmark = pytest.mark.anyio

SCHEMA_3 = {
    "files": ("metadata_trusted", "requires_external", "provides_extra"),
    "proxy_files": ("metadata_trusted", "dependencies"),
    "audit_events": ("resource_name",),
}


async def _upload(ctx: Context, principal: Principal, record: object, filename: str, content: bytes) -> None:
    blob = ctx.blobs.incoming()
    await blob.write(content)
    await blob.finish()
    await uploads.accept(ctx, principal, record, uploads.Upload({}, filename, blob, legacy=False))  # type: ignore[arg-type]


async def test_schema_2_gains_pep_643_trust_and_resolver_fields(ctx: Context) -> None:
    admin_row = await ctx.db.fetch_one(sa.select(t.users).where(t.users.c.username == "admin"))
    assert admin_row is not None
    admin = Principal(admin_row["id"], "admin", True, api_key_id="")
    space = await spaces.create_space(ctx, admin, "Acme", "acme")
    record, _ = await repositories.create_repository(ctx, admin, space, {"name": "tools"})
    legacy = d.metadata("legacy", "1.0")  # 2.1: dependencies may hide in setup.py
    static = d.metadata("static", "1.0", metadata_version="2.2", extra="Requires-Dist: lib\n")
    extras = d.metadata("extras", "1.0", extra="Provides-Extra: fast\nRequires-External: libpq\n")
    await _upload(ctx, admin, record, "legacy-1.0.tar.gz", d.sdist("legacy", "1.0", meta=legacy))
    await _upload(ctx, admin, record, "static-1.0.tar.gz", d.sdist("static", "1.0", meta=static))
    await _upload(ctx, admin, record, "extras-1.0-py3-none-any.whl", d.wheel("extras", "1.0", meta=extras))
    await ctx.db.disconnect()

    raw = StateReader(ctx.settings.data_dir)  # what the previous release left
    for table, columns in SCHEMA_3.items():
        for column in columns:
            raw.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    raw.execute("UPDATE schema_info SET value = '2'")

    reopened = build_context(ctx.settings)
    reopened.blobs = ctx.blobs
    await open_context(reopened)
    try:
        rows = await reopened.db.fetch_all(sa.select(t.files).order_by(t.files.c.filename))
        found = {row["filename"]: row for row in rows}
        assert found["legacy-1.0.tar.gz"]["metadata_trusted"] is False
        assert found["static-1.0.tar.gz"]["metadata_trusted"] is True
        wheel = found["extras-1.0-py3-none-any.whl"]
        assert wheel["metadata_trusted"] is True
        assert (wheel["provides_extra"], wheel["requires_external"]) == (["fast"], ["libpq"])
        version = await reopened.db.fetch_val(sa.select(t.schema_info.c.value))
        assert version == SCHEMA_VERSION
    finally:
        await reopened.db.disconnect()


async def test_schema_7_gains_each_files_canonical_version(ctx: Context) -> None:
    """Files stored before schema 8 get the canonical version the release check looks them up by,
    and the index on the package alone goes: the one on (package, canonical version) serves both."""
    admin_row = await ctx.db.fetch_one(sa.select(t.users).where(t.users.c.username == "admin"))
    assert admin_row is not None
    admin = Principal(admin_row["id"], "admin", True, api_key_id="")
    space = await spaces.create_space(ctx, admin, "Acme", "acme")
    record, _ = await repositories.create_repository(ctx, admin, space, {"name": "tools"})
    await _upload(ctx, admin, record, "demo-1.0.0-py3-none-any.whl", d.wheel("demo", "1.0.0"))
    await _upload(ctx, admin, record, "demo-2.0rc1.tar.gz", d.sdist("demo", "2.0rc1"))
    await ctx.db.disconnect()

    raw = StateReader(ctx.settings.data_dir)  # what the previous release left
    raw.execute("DROP INDEX ix_files_package_version")
    raw.execute("ALTER TABLE files DROP COLUMN canonical_version")
    raw.execute("CREATE INDEX ix_files_package ON files (package_id)")
    raw.execute("UPDATE schema_info SET value = '7'")

    reopened = build_context(ctx.settings)
    reopened.blobs = ctx.blobs
    await open_context(reopened)
    try:
        rows = await reopened.db.fetch_all(sa.select(t.files.c.filename, t.files.c.canonical_version))
        assert {row["filename"]: row["canonical_version"] for row in rows} == {
            "demo-1.0.0-py3-none-any.whl": "1",
            "demo-2.0rc1.tar.gz": "2rc1",
        }
        # the release check finds the stored wheel under another spelling of its version
        with pytest.raises(BadRequest, match="same release, build and tags"):
            await _upload(reopened, admin, record, "demo-1.0-py3-none-any.whl", d.wheel("demo", "1.0", salt="x"))
    finally:
        await reopened.db.disconnect()
    indexes = raw.rows(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'files'"
        if not POSTGRES
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'files' AND schemaname = current_schema()"
    )
    names = {row[0] for row in indexes}
    assert "ix_files_package_version" in names and "ix_files_package" not in names
