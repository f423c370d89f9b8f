"""Bringing a directory of distributions into a hosted repository (``qarion-pypi load``): what
moving from pypiserver (a flat or nested package directory) or devpi (an export's files) takes.

Every file passes the upload service's own checks (one path for one job); a file that is there
already with the same bytes is skipped, a refused one is reported with its reason, and files that
are not distributions by their name (devpi's JSON, indexes) are ignored. Several files are read
and checked at once; the database keeps their rows in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.errors import QarionError
from qarion_pypi.repositories.records import RepositoryRecord
from qarion_pypi.services.catalog import uploads
from qarion_pypi.storage import IncomingBlob

DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".egg")


@dataclass
class LoadReport:
    total: int = 0
    total_bytes: int = 0
    loaded: int = 0
    skipped: int = 0  # there already, same bytes
    refused: list[tuple[Path, str]] = field(default_factory=list)
    ignored: int = 0  # not distributions by their name
    done_bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.loaded + self.skipped + len(self.refused)

    @property
    def seconds(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)


def distributions(root: Path) -> tuple[list[Path], int]:
    """The distribution files below ``root`` (any depth, symlinks not followed), and how many other
    files there were."""
    found, other = [], 0
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.name.lower().endswith(DISTRIBUTION_SUFFIXES):
            found.append(path)
        else:
            other += 1
    return found, other


async def _staged(ctx: Context, path: Path) -> IncomingBlob:
    blob = ctx.blobs.incoming()
    try:
        await anyio.to_thread.run_sync(blob.stage_file, path)
    except BaseException:
        blob.discard()
        raise
    return blob


async def load_directory(
    ctx: Context,
    principal: Principal,
    repository: RepositoryRecord,
    root: Path,
    *,
    at_once: int = 8,
    progress: Callable[[LoadReport], None] = lambda report: None,
) -> LoadReport:
    target = await uploads.target(ctx, principal, repository)
    paths, ignored = await anyio.to_thread.run_sync(distributions, root)
    report = LoadReport(total=len(paths), ignored=ignored)
    report.total_bytes = sum(path.stat().st_size for path in paths)
    queue = iter(paths)

    async def worker() -> None:
        for path in queue:
            size = path.stat().st_size
            try:
                blob = await _staged(ctx, path)
                try:
                    upload = uploads.Upload(form={}, filename=path.name, blob=blob, legacy=False)
                    outcome = await uploads.accept(ctx, principal, target, upload)
                finally:
                    blob.discard()
            except QarionError as exc:
                report.refused.append((path, exc.detail))
            except OSError as exc:
                report.refused.append((path, f"could not be read: {exc.strerror or exc}"))
            else:
                if outcome.created:
                    report.loaded += 1
                else:
                    report.skipped += 1
            report.done_bytes += size
            progress(report)

    async with anyio.create_task_group() as group:
        for _ in range(max(1, at_once)):
            group.start_soon(worker)
    return report
