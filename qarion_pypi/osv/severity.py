"""A finding's severity: from CVSS vectors (v4, then v3, then v2) or the record's own label.

Scores map to the four levels the scan policy speaks: below 4.0 low, below 7.0 medium, below 9.0
high, else critical. A vector the ``cvss`` package cannot read is passed over for the next source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from qarion_pypi.osv.records import Affected, Record, SeverityEntry

LEVELS = ("low", "medium", "high", "critical")
_LABELS = {"low": "low", "moderate": "medium", "medium": "medium", "high": "high", "important": "high",
           "critical": "critical"}  # fmt: skip


@dataclass(frozen=True)
class Severity:
    level: str | None  # one of LEVELS; None when no source says
    score: float | None = None
    source: str | None = None  # CVSS_V4, CVSS_V3, CVSS_V2 or "label"


def rank(level: str | None) -> int:
    """0 for unknown, then 1 (low) to 4 (critical)."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def level_for(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    return "medium" if score >= 4.0 else "low"


def severity_of(record: Record, entries: Sequence[Affected]) -> Severity:
    """Per-package severity where the matched entries carry one, else the record's."""
    vectors: list[SeverityEntry] = [s for entry in entries for s in entry.severity] or list(record.severity)
    for kind in ("CVSS_V4", "CVSS_V3", "CVSS_V2"):
        for entry in vectors:
            if entry.type == kind and (score := _score(kind, entry.score)) is not None:
                return Severity(level_for(score), score, kind)
    if record.label and record.label.strip().lower() in _LABELS:
        return Severity(_LABELS[record.label.strip().lower()], None, "label")
    return Severity(None)


def _score(kind: str, vector: str) -> float | None:
    try:
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score)
        if kind == "CVSS_V3":
            return float(CVSS3(vector).scores()[0])
        return float(CVSS2(vector).scores()[0])
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
