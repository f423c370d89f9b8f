"""Backups of a single-box server (SQLite and a blob directory), taken while it runs.

``backup``: SQLite's online backup API copies the database as of one moment; then every blob
that copy references is copied beside it (blobs are content-addressed and never change, so a
repeated backup into the same place copies only the new ones, and drops the ones no longer
referenced). Should a file be deleted between the two steps, its blob may be gone before it is
copied: the backup starts over from a new snapshot (a bounded number of times). The data dir's
secret key (sealed upstream passwords) goes with it.

``restore``: the other way, into a data dir that holds no database yet; the database's integrity
and every blob's size are checked before it is put in place.

On PostgreSQL and S3 the tools of those systems do this job (``pg_dump``, bucket versioning), and
these functions say so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from qarion_pypi.auth.sealing import KEY_FILE
from qarion_pypi.config import Settings
from qarion_pypi.storage.base import blob_key

DATABASE_FILE = "qarion.db"
BLOBS = "blobs"
ATTEMPTS = 5
ELSEWHERE = (
    "backup and restore cover SQLite and a blob directory; on PostgreSQL use pg_dump (or your provider's "
    "snapshots) and on S3 bucket versioning or replication (README, 'Backups and checks')"
)


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason."""


@dataclass
class BackupReport:
    files: int = 0  # file rows in the copy
    blobs_copied: int = 0
    blobs_kept: int = 0  # already in the destination
    blobs_dropped: int = 0  # in the destination, no longer referenced
    attempts: int = 1


def _single_box(settings: Settings) -> Path:
    if not settings.resolved_database_url.startswith("sqlite") or settings.storage_backend != "filesystem":
        raise BackupError(ELSEWHERE)
    return Path(settings.resolved_database_url.removeprefix("sqlite:///"))


def _referenced(database: Path) -> tuple[set[str], int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        digests = {row[0] for row in connection.execute("SELECT sha256 FROM files")}
        digests |= {
            row[0] for row in connection.execute("SELECT blob_sha256 FROM proxy_files WHERE blob_sha256 IS NOT NULL")
        }
        files = connection.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    connection.close()
    return digests, int(files)


def _copy_file(source: Path, target: Path) -> None:
    """Copy through a temporary name and fsync, so a crash never leaves half a file in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".partial")
    with source.open("rb") as reading, temporary.open("wb") as writing:
        shutil.copyfileobj(reading, writing, 1024 * 1024)
        writing.flush()
        os.fsync(writing.fileno())
    temporary.replace(target)


def _snapshot(database: Path, target: Path) -> None:
    temporary = target.with_name(target.name + ".partial")
    temporary.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    copy = sqlite3.connect(temporary)
    try:
        source.backup(copy)  # one consistent moment, while writers go on
    finally:
        copy.close()
        source.close()
    temporary.replace(target)


def _sync_blobs(store: Path, destination: Path, wanted: set[str], report: BackupReport) -> bool:
    """Copy the wanted blobs that are missing; False when one is gone from the store."""
    for digest in sorted(wanted):
        target = destination / blob_key(digest)
        source = store / blob_key(digest)
        if target.exists() and source.exists() and target.stat().st_size == source.stat().st_size:
            report.blobs_kept += 1
            continue
        if not source.exists():
            return False
        _copy_file(source, target)
        report.blobs_copied += 1
    return True


def _drop_unreferenced(destination: Path, wanted: set[str]) -> int:
    dropped = 0
    for path in destination.glob("*/*/*"):
        if path.is_file() and path.name not in wanted:
            path.unlink()
            dropped += 1
    return dropped


def backup(settings: Settings, destination: Path) -> BackupReport:
    database = _single_box(settings)
    if not database.exists():
        raise BackupError(f"there is no database at {database} to back up")
    destination.mkdir(parents=True, exist_ok=True)
    snapshot = destination / DATABASE_FILE
    for attempt in range(1, ATTEMPTS + 1):
        report = BackupReport(attempts=attempt)
        _snapshot(database, snapshot)
        wanted, report.files = _referenced(snapshot)
        if _sync_blobs(settings.resolved_blob_dir, destination / BLOBS, wanted, report):
            report.blobs_dropped = _drop_unreferenced(destination / BLOBS, wanted)
            secret = settings.data_dir / KEY_FILE
            if secret.exists():
                _copy_file(secret, destination / KEY_FILE)
                os.chmod(destination / KEY_FILE, 0o600)
            return report
    raise BackupError(f"files kept being deleted while their blobs were copied; {ATTEMPTS} attempts made")


def restore(source: Path, settings: Settings) -> BackupReport:
    database = _single_box(settings)
    snapshot = source / DATABASE_FILE
    if not snapshot.is_file():
        raise BackupError(f"{source} holds no backup ({DATABASE_FILE} is missing)")
    if database.exists():
        raise BackupError(f"{database} exists already; restore into a new data dir")
    with sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
    connection.close()
    if verdict != "ok":
        raise BackupError(f"the backup's database is damaged: {verdict}")
    wanted, files = _referenced(snapshot)
    report = BackupReport(files=files)
    missing = [d for d in wanted if not (source / BLOBS / blob_key(d)).is_file()]
    if missing:
        raise BackupError(f"the backup lacks {len(missing)} blob(s) its database references, e.g. {missing[0]}")
    blobs = settings.resolved_blob_dir
    for digest in sorted(wanted):
        _copy_file(source / BLOBS / blob_key(digest), blobs / blob_key(digest))
        report.blobs_copied += 1
    if (source / KEY_FILE).exists():
        _copy_file(source / KEY_FILE, settings.data_dir / KEY_FILE)
        os.chmod(settings.data_dir / KEY_FILE, 0o600)
    database.parent.mkdir(parents=True, exist_ok=True)
    _copy_file(snapshot, database)  # last: a data dir with a database is a restored one
    return report
