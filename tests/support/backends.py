"""Which backends the test servers run on, chosen by ``QARION_TEST_BACKEND``:

- ``sqlite`` (the default): a SQLite file and a blob directory in the data dir, jobs in process.
- ``postgres``: PostgreSQL (a schema of its own per data dir), a real S3 server (``weed mini``,
  started once per session unless ``QARION_TEST_S3_ENDPOINT`` names one) and arq on Redis (a
  queue of its own per data dir).

Everything is derived from the data dir, so a server restarted on the same data dir finds its
database, bucket prefix and queue again. Test code reads stored state through ``StateReader``,
whichever backend holds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import obstore
from obstore.store import S3Store

from tests.support.s3server import S3Server, weed_mini

BACKEND = os.environ.get("QARION_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"QARION_TEST_BACKEND must be sqlite or postgres, not {BACKEND!r}")
POSTGRES = BACKEND == "postgres"
POSTGRES_URL = os.environ.get("QARION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("QARION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

T = TypeVar("T")


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from synchronous test code (in a thread of its own, so that it
    works inside a running event loop too)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(factory())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _Session:
    """What the postgres backend starts once and removes at the end: the S3 server, schemas."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._s3: S3Server | None = None
        self.schemas: set[str] = set()

    def s3(self) -> S3Server:
        with self._lock:
            if self._s3 is None:
                endpoint = os.environ.get("QARION_TEST_S3_ENDPOINT")
                if endpoint:
                    self._s3 = S3Server(
                        endpoint,
                        bucket=os.environ.get("QARION_TEST_S3_BUCKET", "qarion-test"),
                        access_key=os.environ.get("QARION_TEST_S3_ACCESS_KEY", ""),
                        secret_key=os.environ.get("QARION_TEST_S3_SECRET_KEY", ""),
                    )
                else:
                    directory = Path(tempfile.mkdtemp(prefix="qarion-weed-"))
                    self._s3 = self._stack.enter_context(weed_mini(directory))
            return self._s3

    def schema(self, name: str) -> None:
        with self._lock:
            if name in self.schemas:
                return
            self.schemas.add(name)
        run_async(lambda: _pg(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))

    def close(self) -> None:
        for name in sorted(self.schemas):
            run_async(lambda name=name: _pg(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))  # type: ignore[misc]
        self.schemas.clear()
        self._stack.close()
        self._s3 = None


SESSION = _Session()


async def _pg(statement: str, *args: Any, schema: str | None = None) -> list[Any]:
    settings = {"search_path": schema} if schema else None
    connection = await asyncpg.connect(POSTGRES_URL, server_settings=settings)
    try:
        return list(await connection.fetch(statement, *args))
    finally:
        await connection.close()


def _name(data_dir: Path) -> str:
    return "qt_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def settings_for(data_dir: Path) -> dict[str, str]:
    """The settings that put a server on this data dir onto the chosen backend."""
    if not POSTGRES:
        return {}
    name = _name(data_dir)
    SESSION.schema(name)
    s3 = SESSION.s3()
    return {
        "database_url": f"{POSTGRES_URL}?search_path={name}",
        "storage_backend": "s3",
        "s3_endpoint_url": s3.endpoint,
        "s3_bucket": s3.bucket,
        "s3_prefix": name,
        "s3_access_key_id": s3.access_key,
        "s3_secret_access_key": s3.secret_key,
        "jobs_backend": "arq",
        "redis_url": REDIS_URL,
        "jobs_queue_name": f"arq:{name}",
        "jobs_worker_in_server": "true",
        "secret_key": f"test-secret-{name}",
    }


def database_url_for(data_dir: Path) -> str:
    """The database a server on this data dir uses, on the chosen backend."""
    return settings_for(data_dir).get("database_url", f"sqlite:///{data_dir / 'qarion.db'}")


def environment_for(data_dir: Path) -> dict[str, str]:
    return {f"QARION_PYPI_{key.upper()}": value for key, value in settings_for(data_dir).items()}


@dataclass(frozen=True)
class StateReader:
    """The stored state of one data dir, read directly: rows and blobs."""

    data_dir: Path

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of a query written with ``?`` placeholders (numbered for PostgreSQL); times are
        naive UTC datetimes, as the tables store them."""
        if not POSTGRES:
            plain = tuple(arg.isoformat(sep=" ") if isinstance(arg, datetime) else arg for arg in args)
            with sqlite3.connect(self.data_dir / "qarion.db") as db:
                return db.execute(sql, plain).fetchall()
        parts = sql.split("?")
        numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
        schema = _name(self.data_dir)
        records = run_async(lambda: _pg(numbered, *args, schema=schema))
        return [tuple(record) for record in records]

    def execute(self, sql: str, *args: Any) -> None:
        self.rows(sql, *args)

    def blob_names(self) -> set[str]:
        """Every stored blob, as ``ab/cd/<sha256>``."""
        if not POSTGRES:
            root = self.data_dir / "blobs"
            return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts}
        prefix = _name(self.data_dir)
        names: set[str] = set()
        for batch in obstore.list(_s3_store(), prefix=prefix + "/"):
            names.update(str(meta["path"]).removeprefix(prefix + "/") for meta in batch)
        return names

    def delete_blob(self, name: str) -> None:
        if not POSTGRES:
            (self.data_dir / "blobs" / name).unlink()
        else:
            obstore.delete(_s3_store(), f"{_name(self.data_dir)}/{name}")

    def write_blob(self, name: str, data: bytes) -> None:
        """Replace a blob's bytes behind the server's back (to damage it)."""
        if not POSTGRES:
            (self.data_dir / "blobs" / name).write_bytes(data)
        else:
            obstore.put(_s3_store(), f"{_name(self.data_dir)}/{name}", data)

    @contextmanager
    def writes_held(self) -> Iterator[None]:
        """Another client holds what writers need while this lasts: SQLite's write lock, or on
        PostgreSQL an exclusive lock on the tables every upload writes (reads still pass)."""
        locked, release, failed = threading.Event(), threading.Event(), []

        def hold() -> None:
            try:
                if not POSTGRES:
                    with sqlite3.connect(self.data_dir / "qarion.db", isolation_level=None) as other:
                        other.execute("BEGIN IMMEDIATE")
                        locked.set()
                        release.wait(30)
                        other.execute("ROLLBACK")
                else:
                    run_async(self._hold_tables(locked, release))
            except BaseException as exc:
                failed.append(exc)
                locked.set()

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert locked.wait(10) and not failed, failed
            yield
        finally:
            release.set()
            holder.join(30)

    def _hold_tables(
        self, locked: threading.Event, release: threading.Event
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        async def hold() -> None:
            connection = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": _name(self.data_dir)})
            try:
                async with connection.transaction():
                    await connection.execute("LOCK TABLE files, filename_registry IN EXCLUSIVE MODE")
                    locked.set()
                    await asyncio.to_thread(release.wait, 30)
            finally:
                await connection.close()

        return hold

    @property
    def staging(self) -> Path:
        """Where the server stages incoming bytes."""
        return self.data_dir / ("staging" if POSTGRES else "blobs/.incoming")


def _s3_store() -> S3Store:
    s3 = SESSION.s3()
    return S3Store(
        s3.bucket, endpoint=s3.endpoint, access_key_id=s3.access_key, secret_access_key=s3.secret_key,
        region="us-east-1", client_options={"allow_http": True}, virtual_hosted_style_request=False,
    )  # fmt: skip


def sessions() -> Iterator[None]:
    """A session fixture's body: the backend's services live until the session ends."""
    try:
        yield
    finally:
        SESSION.close()
