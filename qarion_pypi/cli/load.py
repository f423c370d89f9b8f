"""``qarion-pypi load DIR --space S --repository R``: a directory of distributions (pypiserver's
package directory, flat or nested, or a devpi export) into a hosted repository, whether or not
the server is running."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio

from qarion_pypi.cli.common import data_options, with_context
from qarion_pypi.config import Settings
from qarion_pypi.context import Context
from qarion_pypi.errors import NotFound
from qarion_pypi.repositories import records
from qarion_pypi.services.accounts import users
from qarion_pypi.services.catalog import loading
from qarion_pypi.services.catalog.loading import LoadReport


def add(commands: Any) -> None:
    load = commands.add_parser("load", help="load a directory of distributions into a hosted repository")
    load.add_argument("directory", type=Path, help="where the files are (searched at any depth)")
    load.add_argument("--space", required=True, help="the space's slug")
    load.add_argument("--repository", required=True, help="the repository's slug")
    load.add_argument("--project", help="the project scope's slug, for a project-scoped repository")
    load.add_argument("--as", dest="username", default="admin", help="the user recorded as uploader (default admin)")
    load.add_argument("--jobs", type=int, default=8, help="files read and checked at once (default 8)")
    data_options(load)


class _Bar:
    """Files, bytes, rate and ETA on one terminal line (nothing when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._shown = sys.stderr.isatty()
        self._last = -1.0

    def __call__(self, report: LoadReport) -> None:
        if not self._shown or (report.done != report.total and report.seconds - self._last < 0.1):
            return
        self._last = report.seconds
        rate = report.done / report.seconds
        eta = (report.total - report.done) / rate if rate else 0.0
        width = 30
        filled = width * report.done // max(report.total, 1)
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {report.done}/{report.total} files, "
            f"{report.done_bytes / 1e6:.1f}/{report.total_bytes / 1e6:.1f} MB, {rate:.0f} files/s, ETA {eta:.0f} s ",
            end="\n" if report.done == report.total else "",
            file=sys.stderr,
            flush=True,
        )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.directory.is_dir():
        raise ValueError(f"{args.directory} is not a directory")

    async def load(ctx: Context) -> LoadReport:
        repository = await records.by_client_path(ctx.db, args.space, args.repository, args.project)
        user = await users.require_user(ctx, args.username)
        principal = await users.principal_of(ctx, user["id"])
        if principal is None:
            raise NotFound(f"User {args.username!r} not found or deactivated.")
        return await loading.load_directory(ctx, principal, repository, args.directory, at_once=args.jobs,
                                            progress=_Bar())  # fmt: skip

    report = anyio.run(with_context, settings, load)
    for path, reason in report.refused:
        print(f"REFUSED  {path}: {reason}")
    print(
        f"Loaded {report.loaded}, skipped {report.skipped} already there, refused {len(report.refused)}, "
        f"ignored {report.ignored} other files; {report.done_bytes / 1e6:.1f} MB in {report.seconds:.1f} s "
        f"({report.done / report.seconds:.0f} files/s)."
    )
    return 1 if report.refused else 0
