"""OSV records for the PyPI ecosystem, read from untrusted JSON into checked, typed values.

One parser serves both providers (an imported export and the online query API), so whatever a
record claims is checked the same way: types, sizes, PEP 440 versions in ranges, one event per
object. A record that fails a check is refused with a reason; a withdrawn record, or one that
affects nothing in PyPI, parses to ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

ECOSYSTEM = "PyPI"
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
# Ranges whose events are package versions. GIT ranges name commits and need the repository.
VERSION_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_MAX_TEXT = 2000
_MAX_SUMMARY = 500
_MAX_ITEMS = 10_000


class InvalidRecord(ValueError):
    """The record breaks the OSV schema in a way that matters for matching."""


@dataclass(frozen=True)
class Event:
    kind: str  # one of EVENT_KINDS
    version: Version | None  # None: introduced "0", the start of time (or a limit of "*")


@dataclass(frozen=True)
class Range:
    type: str
    events: tuple[Event, ...]


@dataclass(frozen=True)
class SeverityEntry:
    type: str  # CVSS_V2, CVSS_V3, CVSS_V4, or another scheme (ignored)
    score: str


@dataclass(frozen=True)
class Affected:
    name: NormalizedName
    versions: frozenset[str]
    ranges: tuple[Range, ...]
    severity: tuple[SeverityEntry, ...]


@dataclass(frozen=True)
class Record:
    id: str
    modified: str
    summary: str
    aliases: tuple[str, ...]
    affected: tuple[Affected, ...]  # PyPI entries only
    severity: tuple[SeverityEntry, ...]
    label: str | None  # database_specific.severity, e.g. GHSA's "MODERATE"

    @property
    def package_names(self) -> frozenset[NormalizedName]:
        return frozenset(a.name for a in self.affected)

    def for_package(self, name: str) -> tuple[Affected, ...]:
        return tuple(a for a in self.affected if a.name == name)

    def as_document(self) -> dict[str, Any]:
        """The checked record as JSON: what is stored, and what ``parse_record`` reads back."""
        return {
            "id": self.id,
            "modified": self.modified,
            "summary": self.summary,
            "aliases": list(self.aliases),
            "severity": [_severity_document(s) for s in self.severity],
            "database_specific": {"severity": self.label} if self.label else {},
            "affected": [
                {
                    "package": {"ecosystem": ECOSYSTEM, "name": a.name},
                    "versions": sorted(a.versions),
                    "ranges": [
                        {"type": r.type, "events": [{e.kind: _event_text(e)} for e in r.events]} for r in a.ranges
                    ],
                    "severity": [_severity_document(s) for s in a.severity],
                }
                for a in self.affected
            ],
        }


def _severity_document(entry: SeverityEntry) -> dict[str, str]:
    return {"type": entry.type, "score": entry.score}


def _event_text(event: Event) -> str:
    if event.version is not None:
        return str(event.version)
    return "0" if event.kind == "introduced" else "*"


def parse_record(document: Any) -> Record | None:
    """The record's PyPI content, checked; None when withdrawn or when it names no PyPI package."""
    doc = _object(document, "record")
    record_id = _text(doc.get("id"), "id", required=True)
    if not _ID.match(record_id):
        raise InvalidRecord(f"id {record_id[:100]!r} is not an OSV identifier")
    where = f"record {record_id}"
    if doc.get("withdrawn") not in (None, ""):
        _text(doc["withdrawn"], f"{where}: withdrawn")
        return None
    affected = tuple(
        entry
        for index, item in enumerate(_list(doc.get("affected"), f"{where}: affected"))
        if (entry := _affected(item, f"{where}: affected[{index}]")) is not None
    )
    if not affected:
        return None
    aliases = tuple(_text(a, f"{where}: aliases") for a in _list(doc.get("aliases"), f"{where}: aliases"))
    bad_alias = next((a for a in aliases if not _ID.match(a)), None)
    if bad_alias is not None:
        raise InvalidRecord(f"{where}: alias {bad_alias[:100]!r} is not an OSV identifier")
    specific = doc.get("database_specific")
    label = None
    if isinstance(specific, Mapping) and specific.get("severity") is not None:
        label = _text(specific["severity"], f"{where}: database_specific.severity")
    return Record(
        id=record_id,
        modified=_text(doc.get("modified"), f"{where}: modified"),
        summary=_summary(doc.get("summary"), f"{where}: summary"),
        aliases=tuple(dict.fromkeys(a for a in aliases if a != record_id)),
        affected=affected,
        severity=_severities(doc.get("severity"), f"{where}: severity"),
        label=label,
    )


def _affected(item: Any, where: str) -> Affected | None:
    entry = _object(item, where)
    package = _object(entry.get("package"), f"{where}.package")
    if _text(package.get("ecosystem"), f"{where}.package.ecosystem") != ECOSYSTEM:
        return None
    name = _text(package.get("name"), f"{where}.package.name", required=True)
    versions = frozenset(_text(v, f"{where}.versions") for v in _list(entry.get("versions"), f"{where}.versions"))
    ranges = tuple(
        parsed
        for index, raw in enumerate(_list(entry.get("ranges"), f"{where}.ranges"))
        if (parsed := _range(raw, f"{where}.ranges[{index}]")) is not None
    )
    return Affected(canonicalize_name(name), versions, ranges, _severities(entry.get("severity"), f"{where}.severity"))


def _range(item: Any, where: str) -> Range | None:
    raw = _object(item, where)
    kind = _text(raw.get("type"), f"{where}.type", required=True)
    if kind not in VERSION_RANGE_TYPES:
        return None
    events = tuple(_event(e, f"{where}.events[{i}]") for i, e in enumerate(_list(raw.get("events"), where)))
    if not any(e.kind == "introduced" for e in events):
        raise InvalidRecord(f"{where}: a range needs an 'introduced' event")
    return Range(kind, events)


def _event(item: Any, where: str) -> Event:
    raw = _object(item, where)
    if len(raw) != 1 or next(iter(raw)) not in EVENT_KINDS:
        raise InvalidRecord(f"{where}: an event is one of {', '.join(EVENT_KINDS)}")
    kind, value = next(iter(raw.items()))
    text = _text(value, f"{where}.{kind}", required=True)
    if (kind == "introduced" and text == "0") or (kind == "limit" and text == "*"):
        return Event(kind, None)
    try:
        return Event(kind, Version(text))
    except InvalidVersion:
        raise InvalidRecord(f"{where}.{kind}: {text[:100]!r} is not a PEP 440 version") from None


def _severities(value: Any, where: str) -> tuple[SeverityEntry, ...]:
    entries = []
    for index, item in enumerate(_list(value, where)):
        raw = _object(item, f"{where}[{index}]")
        entries.append(
            SeverityEntry(
                _text(raw.get("type"), f"{where}[{index}].type", required=True),
                _text(raw.get("score"), f"{where}[{index}].score", required=True),
            )
        )
    return tuple(entries)


def _summary(value: Any, where: str) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidRecord(f"{where} must be a string")
    text = " ".join((value or "").split())
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 1] + "…"


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRecord(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord(f"{where} must be a list")
    if len(value) > _MAX_ITEMS:
        raise InvalidRecord(f"{where} has more than {_MAX_ITEMS} items")
    return value


def _text(value: Any, where: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidRecord(f"{where} must be a {'non-empty ' if required else ''}string")
    if len(value) > _MAX_TEXT:
        raise InvalidRecord(f"{where} is longer than {_MAX_TEXT} characters")
    return value
