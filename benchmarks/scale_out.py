"""The scale-out backends for a benchmark run: a fresh PostgreSQL schema and a SeaweedFS
``weed mini`` S3 server (the one the tests use), both removed afterwards.

PostgreSQL is taken from ``QARION_BENCH_POSTGRES_URL`` (default: the local server's ``test``
database, as on this project's machine)."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support
from tests.support.s3server import weed_mini  # noqa: E402

POSTGRES_URL = os.environ.get("QARION_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _sql(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_and_s3(scratch: Path) -> Iterator[dict[str, str]]:
    """The server's environment for PostgreSQL + S3 (downloads streamed through the server, so
    that wrk measures the server and not the object store)."""
    schema = "bench_" + secrets.token_hex(4)
    asyncio.run(_sql(f'CREATE SCHEMA "{schema}"'))
    try:
        with weed_mini(scratch / "weed") as s3:
            yield {
                "QARION_PYPI_DATABASE_URL": f"{POSTGRES_URL}?search_path={schema}",
                "QARION_PYPI_STORAGE_BACKEND": "s3",
                "QARION_PYPI_S3_ENDPOINT_URL": s3.endpoint,
                "QARION_PYPI_S3_BUCKET": s3.bucket,
                "QARION_PYPI_S3_ACCESS_KEY_ID": s3.access_key,
                "QARION_PYPI_S3_SECRET_ACCESS_KEY": s3.secret_key,
                "QARION_PYPI_S3_DOWNLOADS": "stream",
                "QARION_PYPI_SECRET_KEY": secrets.token_hex(32),
            }
    finally:
        asyncio.run(_sql(f'DROP SCHEMA "{schema}" CASCADE'))
