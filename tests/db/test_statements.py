"""Statements built once and run with parameters, quick reads, and SQLite's writers taking turns,
on the test backend's real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.db.sqlite import CHECKPOINT_EVERY
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, Unavailable
from tests.support.backends import database_url_for

pytestmark = pytest.mark.anyio

BY_NAME = sa.select(t.users.c.id, t.users.c.is_admin, t.users.c.created_at).where(
    t.users.c.username == sa.bindparam("name")
)
PROMOTE = t.users.update().where(t.users.c.username == sa.bindparam("name")).values(is_admin=sa.bindparam("admin"))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    (tmp_path / "data").mkdir()
    database = Database(database_url_for(tmp_path / "data"), lock_timeout=0.5)
    await database.connect()
    await database.create_schema()
    yield database
    await database.disconnect()


def user(name: str, **values: object) -> dict[str, object]:
    return {"id": name, "username": name, "is_admin": False, "created_at": utcnow(), **values}


async def test_a_statement_built_once_binds_each_calls_values(db: Database) -> None:
    created = utcnow() - timedelta(days=3)
    await db.insert(t.users, user("ann", is_admin=True, created_at=created))
    await db.insert(t.users, user("bob"))
    for quick in (False, True):
        ann = await db.fetch_one(BY_NAME, {"name": "ann"}, quick=quick)
        assert ann == {"id": "ann", "is_admin": True, "created_at": created}
        bob = await db.fetch_one(BY_NAME, {"name": "bob"}, quick=quick)
        assert bob is not None and bob["is_admin"] is False and bob["created_at"].tzinfo is not None
        assert await db.fetch_one(BY_NAME, {"name": "nobody"}, quick=quick) is None
    assert await db.execute(PROMOTE, {"name": "bob", "admin": True}) == 1
    assert await db.execute(PROMOTE, {"name": "nobody", "admin": True}) == 0
    assert await db.fetch_val(BY_NAME, {"name": "bob"}) == "bob"  # the first column
    admins = await db.fetch_all(sa.select(t.users.c.username).where(t.users.c.is_admin.is_(True)))
    assert sorted(row["username"] for row in admins) == ["ann", "bob"]


async def test_a_transaction_reads_its_own_writes_and_keeps_them_or_none(db: Database) -> None:
    async with db.transaction():
        await db.insert(t.users, user("ann"))
        assert await db.fetch_val(BY_NAME, {"name": "ann"}) == "ann"
        assert await db.execute(PROMOTE, {"name": "ann", "admin": True}) == 1
    seen = await asyncio.create_task(db.fetch_one(BY_NAME, {"name": "ann"}))  # another task, after the commit
    assert seen is not None and seen["is_admin"] is True
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.insert(t.users, user("bob"))
            raise RuntimeError("undo")
    assert await db.fetch_val(BY_NAME, {"name": "bob"}) is None
    async with db.transaction():  # the next transaction starts clean
        assert await db.fetch_val(BY_NAME, {"name": "bob"}) is None
        await db.insert(t.users, user("bob"))
    assert await db.fetch_val(BY_NAME, {"name": "bob"}) == "bob"


async def test_inserts_take_any_set_of_columns_and_refuse_duplicates(db: Database) -> None:
    await db.insert(t.users, user("ann"))
    await db.insert(t.users, {"id": "bob", "username": "bob", "created_at": utcnow()})  # is_admin's default
    assert await db.fetch_val(sa.select(t.users.c.is_admin).where(t.users.c.id == "bob")) is False
    with pytest.raises(Conflict):
        await db.insert(t.users, user("ann"))
    await db.insert_if_absent(t.core_metadata, {"sha256": "a" * 64, "content": b"one"})
    await db.insert_if_absent(t.core_metadata, {"sha256": "a" * 64, "content": b"two"})
    rows = await db.fetch_all(sa.select(t.core_metadata))
    assert [(row["sha256"], bytes(row["content"])) for row in rows] == [("a" * 64, b"one")]


async def test_concurrent_transactions_of_one_process_lose_no_update(db: Database) -> None:
    """Each reads a counter and writes it back plus one, yielding in between: only writers that
    take turns (SQLite's one writer at a time; PostgreSQL's advisory lock) count to the number of
    transactions."""
    await db.insert(t.schema_info, {"key": "counter", "value": "0"})
    counter = sa.select(t.schema_info.c.value).where(t.schema_info.c.key == "counter")

    async def increment() -> None:
        async with db.transaction():
            await db.lock("counter")
            value = int(await db.fetch_val(counter))
            await asyncio.sleep(0)
            await db.execute(
                t.schema_info.update().where(t.schema_info.c.key == "counter").values(value=str(value + 1))
            )

    async def fail() -> None:
        async with db.transaction():
            await db.execute(t.schema_info.update().where(t.schema_info.c.key == "counter").values(value="-100"))
            raise RuntimeError("rolled back")

    outcomes = await asyncio.gather(*(increment() for _ in range(20)), fail(), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes if outcome is not None] == [RuntimeError]
    assert await db.fetch_val(counter) == "20"


@pytest.mark.backend("sqlite")
async def test_a_writer_that_waits_past_the_lock_timeout_is_told_to_retry(db: Database) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with db.transaction():
            await db.insert(t.users, user("ann"))
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    with pytest.raises(Unavailable):
        async with db.transaction():
            await db.insert(t.users, user("bob"))
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(t.users), quick=True) == 0  # reads never wait
    release.set()
    await holder
    async with db.transaction():  # the turn was handed back
        await db.insert(t.users, user("bob"))
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(t.users)) == 2


@pytest.mark.backend("sqlite")
async def test_a_writer_of_this_process_waits_for_its_turn_and_the_wait_is_counted(db: Database) -> None:
    """The second writer queues on the process's turn (not in SQLite's busy handler on its
    connection's thread), starts when the first commits, and its wait reaches the metrics."""
    waits: list[float] = []
    db.pool_waits.observe = waits.append
    held = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with db.transaction():
            await db.insert(t.users, user("ann"))
            held.set()
            await release.wait()
            order.append("ann")

    async def second() -> None:
        async with db.transaction():
            await db.insert(t.users, user("bob"))
            order.append("bob")

    holder = asyncio.create_task(first())
    await held.wait()
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0.05)
    assert order == [] and waits == []  # still waiting for its turn
    release.set()
    await asyncio.gather(holder, waiter)
    assert order == ["ann", "bob"]
    assert len(waits) == 1 and waits[0] > 0.03  # it waited while the first held the turn


@pytest.mark.backend("sqlite")
async def test_the_wal_is_checkpointed_in_the_background_never_inside_a_commit(db: Database, tmp_path: Path) -> None:
    """A COMMIT runs on the event loop, so it must not checkpoint (copy the WAL into the database
    file and sync it, tens of milliseconds); every so many commits a checkpoint runs on a
    connection's own thread instead."""
    assert await db.fetch_val(sa.text("PRAGMA wal_autocheckpoint")) == 0
    main = tmp_path / "data" / "qarion.db"
    before = main.stat().st_size
    for index in range(2 * CHECKPOINT_EVERY):
        event = {"id": f"event-{index}", "occurred_at": utcnow(), "action": "test", "resource_type": "none"}
        await db.insert(t.audit_events, {**event, "outcome": "success", "status": 200, "detail": "x" * 2000})
    for _ in range(500):  # a bounded wait for the background checkpoint
        if main.stat().st_size > before:
            break
        await asyncio.sleep(0.01)
    assert main.stat().st_size > before + 64 * 1024, "the rows never reached the database file"
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(t.audit_events)) == 2 * CHECKPOINT_EVERY


@pytest.mark.backend("sqlite")
async def test_the_wal_starts_over_under_a_steady_stream_of_writes(db: Database, tmp_path: Path) -> None:
    """A checkpoint that writers keep ahead of never catches up, and a WAL that no checkpoint
    caught up with is never started over: it grew by every write (1.3 GB after 12,000 uploads,
    the database 24 MB), and every page read searched more of it. Writes that never pause but
    to let other tasks run must leave a WAL of a checkpoint or two's worth (without the catch-up
    it was 40 to 57 MB here, ten times what was written; with it, about 2 MB)."""
    wal = tmp_path / "data" / "qarion.db-wal"
    rounds = 40 * CHECKPOINT_EVERY
    for index in range(rounds):
        async with db.transaction():
            event = {"id": f"event-{index}", "occurred_at": utcnow(), "action": "test", "resource_type": "none"}
            await db.insert(t.audit_events, {**event, "outcome": "success", "status": 200, "detail": "x" * 2000})
        await asyncio.sleep(0)  # other requests' turn; the checkpoint's thread runs meanwhile
    written = rounds * 2000
    assert wal.stat().st_size < written, f"the WAL grew to {wal.stat().st_size} bytes for {written} written"
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(t.audit_events)) == rounds
