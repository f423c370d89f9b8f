"""``qarion-pypi backup DEST`` and ``qarion-pypi restore SRC``: a consistent copy of a running
single-box server (SQLite and its blobs), incremental on repeat, and its way back."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qarion_pypi.cli.common import data_options
from qarion_pypi.config import Settings
from qarion_pypi.services import backup as backups


def add(commands: Any) -> None:
    backup = commands.add_parser("backup", help="copy the database and its blobs to DEST while the server runs")
    backup.add_argument("destination", type=Path, help="the backup's directory (reused: only new blobs are copied)")
    data_options(backup)
    restore = commands.add_parser("restore", help="bring a backup back into a new data dir")
    restore.add_argument("source", type=Path, help="a directory made by qarion-pypi backup")
    data_options(restore)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "backup":
            report = backups.backup(settings, args.destination)
            print(
                f"Backed up {report.files} files to {args.destination}: {report.blobs_copied} blobs copied, "
                f"{report.blobs_kept} already there, {report.blobs_dropped} no longer needed removed."
            )
        else:
            report = backups.restore(args.source, settings)
            print(f"Restored {report.files} files ({report.blobs_copied} blobs) into {settings.data_dir}.")
    except backups.BackupError as exc:
        raise ValueError(str(exc)) from None
    return 0
