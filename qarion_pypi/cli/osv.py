"""``qarion-pypi osv import``: replace the OSV records scans use."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio

from qarion_pypi.cli.common import data_options, with_context
from qarion_pypi.config import Settings
from qarion_pypi.context import Context
from qarion_pypi.osv import loader, store


def add(commands: Any) -> None:
    osv = commands.add_parser("osv", help="manage the OSV vulnerability data scans use")
    osv_commands = osv.add_subparsers(dest="osv_command", required=True)
    osv_import = osv_commands.add_parser(
        "import", help="replace the OSV records with a PyPI export (a zip of JSON records) or a directory of them"
    )
    osv_import.add_argument("path", type=Path, help="the export zip, or a directory of .json records")
    data_options(osv_import)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        loaded = loader.load(args.path)  # before touching the data dir: a bad path changes nothing
    except loader.LoadError as exc:
        raise ValueError(str(exc)) from None
    problems = "".join(f"\n  refused {problem}" for problem in loaded.problems)
    if not loaded.records:
        raise ValueError(
            f"{args.path} holds no usable PyPI records ({loaded.read} read, {loaded.ignored} withdrawn or not "
            f"for PyPI, {loaded.invalid} refused); the stored records are unchanged{problems}"
        )

    async def replace(ctx: Context) -> str:
        stored = await store.replace_all(ctx.db, loaded.records.values())
        return (
            f"Imported {stored} OSV records from {args.path} ({loaded.read} read, {loaded.ignored} withdrawn or "
            f"not for PyPI, {loaded.invalid} refused); the previous records were replaced.{problems}"
        )

    print(anyio.run(with_context, settings, replace))
    return 0
