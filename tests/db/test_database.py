"""The database layer on the test backend's real database: compiled-statement cache, change
token, memo, conflicts and concurrent schema creation."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.db.database import SCHEMA_VERSION
from qarion_pypi.db.memo import Memo
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict
from tests.support.backends import StateReader, database_url_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    (tmp_path / "data").mkdir()
    database = Database(database_url_for(tmp_path / "data"))
    await database.connect()
    await database.create_schema()
    for name in ("ann", "bob", "cat"):
        await database.execute(
            t.users.insert().values(id=name, username=name, is_admin=name == "ann", created_at=utcnow())
        )
    yield database
    await database.disconnect()


async def test_cached_statements_bind_each_calls_values(db: Database) -> None:
    for name in ("ann", "bob", "cat", "bob", "nobody"):
        row = await db.fetch_one(sa.select(t.users.c.username, t.users.c.is_admin).where(t.users.c.username == name))
        assert (row["username"] if row else None) == (None if name == "nobody" else name)
    assert [r["is_admin"] for r in await db.fetch_all(sa.select(t.users).order_by(t.users.c.username))] == [
        True,
        False,
        False,
    ]


async def test_in_lists_of_different_lengths(db: Database) -> None:
    for names in (["ann"], ["ann", "bob"], ["ann", "bob", "cat"], ["cat"]):
        rows = await db.fetch_all(sa.select(t.users.c.username).where(t.users.c.username.in_(names)))
        assert sorted(r["username"] for r in rows) == sorted(names)


async def test_updates_with_expressions_and_limits(db: Database) -> None:
    when = utcnow()
    for _ in range(2):
        await db.execute(t.users.update().where(t.users.c.username == "bob").values(is_admin=True))
    row = await db.fetch_one(
        sa.select(t.users).where(t.users.c.is_admin.is_(True)).order_by(t.users.c.username).limit(1).offset(1)
    )
    assert row is not None and row["username"] == "bob"
    assert row["created_at"] <= utcnow() and when.tzinfo is not None
    text = sa.text("SELECT username FROM users WHERE username = :n")
    assert await db.fetch_val(text.bindparams(n="cat")) == "cat"
    assert await db.fetch_val(text.bindparams(n="ann")) == "ann"


async def test_change_token_moves_on_any_commit(db: Database, tmp_path: Path) -> None:
    before = await db.change_token()
    assert await db.change_token() == before
    await db.execute(t.users.update().where(t.users.c.username == "cat").values(is_admin=True))
    after = await db.change_token()
    assert after != before
    # another process's commit counts too
    StateReader(tmp_path / "data").execute("UPDATE users SET is_admin = ? WHERE username = 'cat'", False)
    assert await db.change_token() != after


async def test_memo_forgets_everything_when_the_database_changes(db: Database) -> None:
    memo = Memo(db)
    calls = []

    async def admins() -> list[str]:
        calls.append(1)
        rows = await db.fetch_all(sa.select(t.users.c.username).where(t.users.c.is_admin.is_(True)))
        return [r["username"] for r in rows]

    assert await memo.get("admins", admins) == ["ann"]
    assert await memo.get("admins", admins) == ["ann"]
    assert len(calls) == 1
    await db.execute(t.users.update().where(t.users.c.username == "bob").values(is_admin=True))
    assert sorted(await memo.get("admins", admins)) == ["ann", "bob"]
    assert len(calls) == 2


async def test_rolled_back_transactions_leave_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.execute(t.users.insert().values(id="dan", username="dan", is_admin=False, created_at=utcnow()))
            raise RuntimeError("boom")
    assert await db.fetch_one(sa.select(t.users).where(t.users.c.username == "dan")) is None


async def test_a_duplicate_is_a_conflict_and_leaves_nothing(db: Database) -> None:
    with pytest.raises(Conflict):
        async with db.transaction():
            await db.execute(t.users.insert().values(id="dan", username="dan", is_admin=False, created_at=utcnow()))
            await db.execute(t.users.insert().values(id="eve", username="ann", is_admin=False, created_at=utcnow()))
    assert await db.fetch_one(sa.select(t.users).where(t.users.c.username == "dan")) is None


async def test_schema_created_by_several_processes_at_once(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    url = database_url_for(tmp_path / "data")
    databases = [Database(url) for _ in range(4)]
    for database in databases:
        await database.connect()
    try:
        versions = await asyncio.gather(*(database.create_schema() for database in databases))
        current = int(SCHEMA_VERSION)
        assert sorted(versions, key=str) == [current, current, current, None]  # one created it; others found it
        assert await databases[0].fetch_val(sa.select(sa.func.count()).select_from(t.schema_info)) == 1
    finally:
        for database in databases:
            await database.disconnect()


@pytest.mark.backend("sqlite")
async def test_a_version_1_database_gains_the_scan_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    database = Database(f"sqlite:///{path}")
    await database.connect()
    await database.create_schema()
    await database.disconnect()
    with sqlite3.connect(path) as raw:  # what session 1's release created
        for column in ("scan_status", "scan_max_severity", "scan_finding_count"):
            raw.execute(f"ALTER TABLE files DROP COLUMN {column}")
        raw.execute("DROP TABLE file_scans")
        raw.execute("UPDATE schema_info SET value = '1'")
    database = Database(f"sqlite:///{path}")
    await database.connect()
    assert await database.create_schema() == 1
    await database.disconnect()
    with sqlite3.connect(path) as raw:
        columns = {row[1]: row for row in raw.execute("PRAGMA table_info(files)")}
        assert columns["scan_status"][4] == "'not_scanned'" and columns["scan_finding_count"][3] == 1
        assert raw.execute("SELECT value FROM schema_info").fetchone() == (SCHEMA_VERSION,)
        assert raw.execute("SELECT COUNT(*) FROM file_scans").fetchone() == (0,)
