"""The OSV matcher against an independent reading of the schema, on versions hypothesis picks.

The matcher walks each range's events in order; the oracle here reads the raw JSON instead and
turns every ``introduced`` into an interval closed by the nearest ``fixed`` (exclusive) or
``last_affected`` (inclusive) at or above it, then asks plain PEP 440 comparisons. Both must agree
on every record of the test data, and on ranges hypothesis makes up.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.osv.matching import affects
from qarion_pypi.osv.records import parse_record
from tests.support.osv_data import RECORDS


def _interval_affected(events: list[dict[str, str]], version: Version) -> bool:
    def parse(text: str) -> Version | None:
        return None if text in ("0", "*") else Version(text)

    limits = [parse(e["limit"]) for e in events if "limit" in e]
    if limits and not any(limit is None or version < limit for limit in limits):
        return False
    uppers = [(parse(v), kind) for e in events for kind, v in e.items() if kind in ("fixed", "last_affected")]
    for event in events:
        if "introduced" not in event:
            continue
        low = parse(event["introduced"])
        if low is not None and version < low:
            continue
        # the nearest closing event at or above the start; at one version, "fixed" closes first
        above = [(v, kind) for v, kind in uppers if v is not None and (low is None or v >= low)]
        if not above:
            return True
        bound, kind = min(above, key=lambda pair: (pair[0], pair[1] != "fixed"))
        if version < bound or (kind == "last_affected" and version == bound):
            return True
    return False


def oracle(raw: dict[str, Any], name: str, version: Version) -> bool:
    if raw.get("withdrawn"):
        return False
    for entry in raw.get("affected", []):
        package = entry["package"]
        if package["ecosystem"] != "PyPI" or canonicalize_name(package["name"]) != name:
            continue
        if any(Version(listed) == version for listed in entry.get("versions", [])):
            return True
        ranges = [r for r in entry.get("ranges", []) if r["type"] in ("ECOSYSTEM", "SEMVER")]
        if any(_interval_affected(r["events"], version) for r in ranges):
            return True
    return False


def _valid(text: str) -> bool:
    try:
        Version(text)
        return True
    except InvalidVersion:
        return False


BOUNDARIES = sorted(
    {
        value
        for raw in RECORDS
        for entry in raw["affected"]
        for value in [
            *entry.get("versions", []),
            *(v for r in entry.get("ranges", []) for e in r["events"] for v in e.values()),
        ]
        if _valid(value)
    }
)
SUFFIXES = ("", ".0", ".1", ".post1", ".dev0", "a1", "b2", "rc1", "+local")
near_boundaries = st.builds(lambda b, s: b + s, st.sampled_from(BOUNDARIES), st.sampled_from(SUFFIXES)).filter(_valid)
anywhere = st.builds(
    lambda parts, suffix: ".".join(map(str, parts)) + suffix,
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.sampled_from(SUFFIXES),
).filter(_valid)
versions = st.one_of(near_boundaries, anywhere)
NAMES = sorted({canonicalize_name(e["package"]["name"]) for raw in RECORDS for e in raw["affected"]})


@settings(max_examples=400, deadline=None)
@given(version=versions)
def test_matcher_agrees_with_the_interval_reading_on_every_record(version: str) -> None:
    for raw in RECORDS:
        record = parse_record(raw)
        for name in NAMES:
            expected = oracle(raw, name, Version(version))
            actual = bool(affects(record, name, version)) if record is not None else False
            assert actual == expected, (raw["id"], name, version)


event_versions = st.sampled_from(["0.5", "1.0", "1.0rc1", "1.5", "2.0", "2.0.post1", "3.0", "3.0.dev1", "4"])


@st.composite
def made_up_ranges(draw: st.DrawFn) -> list[dict[str, str]]:
    """Any events at all, in any order, as long as one of them is an ``introduced``."""
    kinds = st.sampled_from(["introduced", "fixed", "last_affected", "limit"])
    events = draw(st.lists(st.tuples(kinds, event_versions), min_size=0, max_size=6))
    start = draw(st.sampled_from(["0", "0.5", "1.0", "2.0"]))
    events.insert(draw(st.integers(0, len(events))), ("introduced", start))
    return [{kind: value} for kind, value in events]


@settings(max_examples=600, deadline=None)
@given(events=made_up_ranges(), version=st.one_of(event_versions, versions))
def test_matcher_agrees_with_the_interval_reading_on_made_up_ranges(events: list[dict[str, str]], version: str) -> None:
    raw = {
        "id": "TEST-1",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "p"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
    }
    record = parse_record(raw)
    assert record is not None
    assert bool(affects(record, "p", version)) == oracle(raw, "p", Version(version))
