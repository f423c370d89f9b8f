"""OSV test records, written the way the official export ships them: one JSON file per record,
named after its id, in a zip (or a directory)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

CRITICAL_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
MEDIUM_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"  # 5.3
HIGH_V2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"  # 7.5
LOW_V4 = "CVSS:4.0/AV:N/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"  # 1.8
HIGH_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N"  # 8.8


def _pypi(
    name: str, *, ranges: list[dict[str, Any]] | None = None, versions: list[str] | None = None, **more: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"}}
    if ranges is not None:
        entry["ranges"] = ranges
    if versions is not None:
        entry["versions"] = versions
    return {**entry, **more}


def _ecosystem(*events: dict[str, str]) -> dict[str, Any]:
    return {"type": "ECOSYSTEM", "events": list(events)}


def _record(record_id: str, affected: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": "2024-06-01T00:00:00Z",
        "published": "2024-01-01T00:00:00Z",
        "summary": f"Test advisory {record_id}",
        "details": "Long text the scanner does not keep.",
        "affected": affected,
        "references": [{"type": "WEB", "url": "https://example.invalid/advisory"}],
        **fields,
    }


TWO_WINDOWS = [_ecosystem({"introduced": "0"}, {"fixed": "1.5"}), _ecosystem({"introduced": "2.0"}, {"fixed": "2.2"})]

RECORDS: list[dict[str, Any]] = [
    # The same vulnerability from two databases: merged into one finding by their aliases.
    _record("PYSEC-2024-1", [_pypi("libvuln", ranges=TWO_WINDOWS)], aliases=["CVE-2024-1111", "GHSA-aaaa-bbbb-cccc"]),
    _record(
        "GHSA-aaaa-bbbb-cccc",
        [_pypi("libvuln", ranges=TWO_WINDOWS)],
        aliases=["CVE-2024-1111"],
        severity=[{"type": "CVSS_V3", "score": CRITICAL_V3}],
        database_specific={"severity": "CRITICAL"},
    ),
    # An explicit version list only, rated by a CVSS v2 vector.
    _record(
        "PYSEC-2024-2", [_pypi("libvuln", versions=["0.9", "1.0"])], severity=[{"type": "CVSS_V2", "score": HIGH_V2}]
    ),
    # last_affected (inclusive), rated only by the database's own label.
    _record(
        "GHSA-dddd-eeee-ffff",
        [_pypi("medlib", ranges=[_ecosystem({"introduced": "1.0"}, {"last_affected": "1.4"})])],
        database_specific={"severity": "MODERATE"},
    ),
    # limit, a GIT range the matcher must pass over, and a per-package CVSS v4 severity.
    _record(
        "OSV-2024-3",
        [
            _pypi(
                "LowLib",
                ranges=[
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": "3.0"}]},
                    {"type": "GIT", "repo": "https://example.invalid/lowlib.git", "events": [{"introduced": "0"}]},
                ],
                severity=[{"type": "CVSS_V4", "score": LOW_V4}],
            )
        ],
    ),
    # Withdrawn: ignored however much it claims.
    _record(
        "PYSEC-2024-4",
        [_pypi("libvuln", ranges=[_ecosystem({"introduced": "0"})])],
        withdrawn="2024-05-01T00:00:00Z",
        severity=[{"type": "CVSS_V3", "score": CRITICAL_V3}],
    ),
    # Another ecosystem only: not PyPI's business.
    _record(
        "GHSA-gggg-hhhh-iiii",
        [{"package": {"ecosystem": "npm", "name": "libvuln"}, "ranges": [_ecosystem({"introduced": "0"})]}],
    ),
    # v4 wins over v3 (high, not critical).
    _record(
        "PYSEC-2024-5",
        [_pypi("dualsev", ranges=[_ecosystem({"introduced": "1.0"}, {"fixed": "2.0"})])],
        severity=[{"type": "CVSS_V3", "score": CRITICAL_V3}, {"type": "CVSS_V4", "score": HIGH_V4}],
    ),
    # An unreadable vector falls through to the label.
    _record(
        "PYSEC-2024-6",
        [_pypi("badvector", ranges=[_ecosystem({"introduced": "0"})])],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X/nonsense"}],
        database_specific={"severity": "HIGH"},
    ),
    # Pre-releases order under PEP 440: 2.0rc1 is inside, 2.0b1 is not.
    _record(
        "PYSEC-2024-7",
        [_pypi("prelib", ranges=[_ecosystem({"introduced": "2.0rc1"}, {"fixed": "2.0.1"})])],
        severity=[{"type": "CVSS_V3", "score": MEDIUM_V3}],
    ),
    # Unsorted events and several windows in one range.
    _record(
        "PYSEC-2024-8",
        [
            _pypi(
                "multiwin",
                ranges=[_ecosystem({"fixed": "4.0"}, {"introduced": "3.0"}, {"fixed": "1.1"}, {"introduced": "1.0"})],
            )
        ],
    ),
]

# What the test data says about each (package, version): the merged finding ids, or none.
EXPECTED: list[tuple[str, str, set[str]]] = [
    ("libvuln", "0.1", {"PYSEC-2024-1"}),
    ("libvuln", "0.9", {"PYSEC-2024-1", "PYSEC-2024-2"}),
    ("libvuln", "1.0", {"PYSEC-2024-1", "PYSEC-2024-2"}),
    ("libvuln", "1.0.0", {"PYSEC-2024-1", "PYSEC-2024-2"}),  # the same version as 1.0 under PEP 440
    ("libvuln", "1.4.9", {"PYSEC-2024-1"}),
    ("libvuln", "1.5", set()),
    ("libvuln", "1.9", set()),
    ("libvuln", "2.0", {"PYSEC-2024-1"}),
    ("libvuln", "2.2", set()),
    ("libvuln", "2.2.dev1", {"PYSEC-2024-1"}),
    ("libvuln", "3.0", set()),
    ("medlib", "0.9", set()),
    ("medlib", "1.0", {"GHSA-dddd-eeee-ffff"}),
    ("medlib", "1.4", {"GHSA-dddd-eeee-ffff"}),
    ("medlib", "1.4.post1", set()),
    ("medlib", "1.4.1", set()),
    ("lowlib", "2.9", {"OSV-2024-3"}),
    ("lowlib", "3.0", set()),
    ("lowlib", "3.1", set()),
    ("dualsev", "1.5", {"PYSEC-2024-5"}),
    ("badvector", "7", {"PYSEC-2024-6"}),
    ("prelib", "2.0b1", set()),
    ("prelib", "2.0rc1", {"PYSEC-2024-7"}),
    ("prelib", "2.0", {"PYSEC-2024-7"}),
    ("prelib", "2.0.1", set()),
    ("multiwin", "1.0", {"PYSEC-2024-8"}),
    ("multiwin", "2.0", set()),
    ("multiwin", "3.5", {"PYSEC-2024-8"}),
    ("multiwin", "4.0", set()),
    ("unknown-package", "1.0", set()),
]


def write_export(path: Path, records: list[dict[str, Any]] = RECORDS) -> Path:
    """A zip like the official per-ecosystem export: ``<id>.json`` for every record."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return path


def write_directory(root: Path, records: list[dict[str, Any]] = RECORDS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for record in records:
        (root / f"{record['id']}.json").write_text(json.dumps(record))
    return root
