"""What every command shares: the data-dir options, and the context opened on that data dir."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from qarion_pypi.app import build_context, open_context
from qarion_pypi.config import Settings
from qarion_pypi.context import Context

T = TypeVar("T")


def data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./qarion-data)")
    parser.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")


async def with_context(settings: Settings, action: Callable[[Context], Awaitable[T]]) -> T:
    """Open the data dir as the server does (schema, bootstrap), run ``action``, close it.

    Safe while a server runs on the same data dir: SQLite serializes the writers."""
    ctx = build_context(settings)
    key = await open_context(ctx)
    if key:  # a brand-new data dir: the admin key must not be lost
        print(f"Created platform admin 'admin' with API key: {key}")
    try:
        return await action(ctx)
    finally:
        await ctx.db.disconnect()


class Progress:
    """A one-line progress report on a terminal (nothing when stderr is not one)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._shown = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self._shown and (done == total or done % 50 == 0):
            percent = 100 * done // max(total, 1)
            print(f"\r{self._what}: {done}/{total} ({percent}%)", end="\n" if done == total else "", file=sys.stderr)
