"""Reading OSV records from the official export (a zip of JSON files) or a directory of them.

The input is untrusted: every member is read with a size cap (its declared size is not
believed), anything that is not a JSON object, or breaks the checks of ``parse_record``, is
refused with its reason, and nothing is extracted to disk. These functions block; run them in a
worker thread.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qarion_pypi.osv.records import InvalidRecord, Record, parse_record

MAX_RECORD_BYTES = 8 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 20


class LoadError(Exception):
    """The path as a whole cannot be read as an OSV export."""


@dataclass
class Loaded:
    records: dict[str, Record] = field(default_factory=dict)
    read: int = 0  # JSON documents looked at
    ignored: int = 0  # withdrawn, or naming no PyPI package
    invalid: int = 0
    problems: list[str] = field(default_factory=list)

    def refuse(self, where: str, reason: str) -> None:
        self.invalid += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(f"{where}: {reason}")


def load(path: Path) -> Loaded:
    if path.is_dir():
        documents = _directory(path)
    elif zipfile.is_zipfile(path):
        documents = _zip(path)
    elif path.exists():
        raise LoadError(f"{path} is neither a zip file nor a directory")
    else:
        raise LoadError(f"{path} does not exist")
    loaded = Loaded()
    for where, body in documents:
        loaded.read += 1
        if body is None:
            loaded.refuse(where, f"larger than {MAX_RECORD_BYTES} bytes")
            continue
        try:
            record = parse_record(json.loads(body))
        except (ValueError, RecursionError) as exc:  # InvalidRecord and JSONDecodeError are ValueErrors
            loaded.refuse(where, str(exc) if isinstance(exc, InvalidRecord) else "not valid JSON")
            continue
        if record is None:
            loaded.ignored += 1
        elif _newer(record, loaded.records.get(record.id)):
            loaded.records[record.id] = record
    return loaded


def _newer(record: Record, current: Record | None) -> bool:
    return current is None or record.modified >= current.modified


def _directory(root: Path) -> Iterator[tuple[str, bytes | None]]:
    for path in sorted(root.rglob("*.json")):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as handle:
            yield str(path.relative_to(root)), _capped(handle.read(MAX_RECORD_BYTES + 1))


def _zip(path: Path) -> Iterator[tuple[str, bytes | None]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(f"{path} is not a readable zip file ({exc})") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            try:
                with archive.open(info) as member:
                    body = member.read(MAX_RECORD_BYTES + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
                # corrupt, encrypted, or compressed with a method Python does not read
                raise LoadError(f"{path}: member {info.filename!r} cannot be read ({exc})") from None
            yield info.filename, _capped(body)


def _capped(body: bytes) -> bytes | None:
    return None if len(body) > MAX_RECORD_BYTES else body
