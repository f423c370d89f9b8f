"""Does an OSV record affect a version? The schema's evaluation rules, under PEP 440 ordering.

A version is affected when an ``affected`` entry lists it in ``versions``, or when one of its
ECOSYSTEM/SEMVER ranges covers it: events are walked in version order ("0" first; at equal
versions ``introduced`` first), ``introduced`` opens the range, ``fixed`` closes it before its own
version and ``last_affected`` after it; a range with ``limit`` events covers nothing at or above
every limit.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

from qarion_pypi.osv.records import Affected, Event, Range, Record


def affects(record: Record, name: str, version: str) -> list[Affected]:
    """The record's entries for ``name`` that cover ``version`` (empty: not affected)."""
    parsed = _version(version)
    return [entry for entry in record.for_package(name) if covers(entry, version, parsed)]


def covers(entry: Affected, version: str, parsed: Version | None = None) -> bool:
    if version in entry.versions or (parsed is not None and any(_version(v) == parsed for v in entry.versions)):
        return True
    return parsed is not None and any(in_range(r, parsed) for r in entry.ranges)


def in_range(version_range: Range, version: Version) -> bool:
    limits = [e for e in version_range.events if e.kind == "limit"]
    if limits and not any(e.version is None or version < e.version for e in limits):
        return False
    affected = False
    for event in sorted((e for e in version_range.events if e.kind != "limit"), key=_walk_order):
        if event.kind == "introduced":
            if event.version is None or version >= event.version:
                affected = True
        elif event.version is not None and (
            (event.kind == "fixed" and version >= event.version)
            or (event.kind == "last_affected" and version > event.version)
        ):
            affected = False
    return affected


def fixed_versions(entries: Iterable[Affected], version: str) -> list[str]:
    """Versions that fix what affects ``version``: every ``fixed`` event above it, in order."""
    parsed = _version(version)
    found = {
        e.version
        for entry in entries
        for r in entry.ranges
        for e in r.events
        if e.kind == "fixed" and e.version is not None and (parsed is None or e.version > parsed)
    }
    return [str(v) for v in sorted(found)]


def _walk_order(event: Event) -> tuple[int, Version | None, int]:
    if event.version is None:  # introduced "0"
        return (0, None, 0)
    return (1, event.version, 0 if event.kind == "introduced" else 1)


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
