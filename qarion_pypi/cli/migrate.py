"""``qarion-pypi migrate``: create or upgrade the database schema, then exit.

Servers do the same when they start (replicas starting together take turns), so this is for
deployments that upgrade the schema as a step of their own, before the new release starts."""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from qarion_pypi.app import SCHEMA_UPGRADES
from qarion_pypi.cli.common import data_options
from qarion_pypi.config import Settings
from qarion_pypi.db import Database
from qarion_pypi.db.database import SCHEMA_VERSION


def add(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="create or upgrade the database schema, then exit")
    data_options(migrate)


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    before = anyio.run(_migrate, settings)
    if before is None:
        print(f"Created the database schema (version {SCHEMA_VERSION}).")
    elif str(before) == SCHEMA_VERSION:
        print(f"The database schema is up to date (version {SCHEMA_VERSION}).")
    else:
        print(f"Upgraded the database schema from version {before} to {SCHEMA_VERSION}.")
    return 0


async def _migrate(settings: Settings) -> int | None:
    db = Database(settings.resolved_database_url, lock_timeout=settings.database_lock_timeout)
    await db.connect()
    try:
        return await db.create_schema(SCHEMA_UPGRADES)
    finally:
        await db.disconnect()
