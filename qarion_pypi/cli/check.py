"""``qarion-pypi check``: the database's integrity, and every file's bytes re-hashed."""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from qarion_pypi.cli.common import Progress, data_options, with_context
from qarion_pypi.config import Settings
from qarion_pypi.context import Context
from qarion_pypi.services.catalog import integrity


def add(commands: Any) -> None:
    check = commands.add_parser(
        "check", help="verify the database and every stored file (exits 1 when anything is wrong)"
    )
    check.add_argument("--sample", type=_positive, metavar="N", help="re-hash N files picked at random, not all")
    check.add_argument(
        "--repair", action="store_true", help="remove blobs no file references and staging files left by crashes"
    )
    data_options(check)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    async def check(ctx: Context) -> integrity.Report:
        return await integrity.check(ctx, sample=args.sample, repair=args.repair, progress=Progress("files"))

    report = anyio.run(with_context, settings, check)
    for problem in report.problems:
        print(f"PROBLEM  {problem}")
    for orphan in report.orphans:
        print(f"ORPHAN   blob {orphan} (no file references it; --repair removes it once an hour old)")
    if args.repair:
        print(f"Removed {report.removed_orphans} orphaned blobs and {report.removed_staging} stale staging files.")
    counts = f"{len(report.problems)} problems, {len(report.orphans)} orphans"
    print(f"Checked {report.checked_files} files: {counts}: {'ok' if report.healthy else 'NOT OK'}.")
    return 0 if report.healthy else 1
