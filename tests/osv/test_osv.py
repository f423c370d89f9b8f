"""The OSV provider: parsing untrusted records, matching under PEP 440, severity, alias merging,
loading exports, and ``qarion-pypi osv import``."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from qarion_pypi.db import Database
from qarion_pypi.osv import loader, store
from qarion_pypi.osv.matching import affects
from qarion_pypi.osv.provider import OsvProvider, merge_findings
from qarion_pypi.osv.records import InvalidRecord, parse_record
from qarion_pypi.osv.severity import level_for, severity_of
from tests.support.backends import StateReader
from tests.support.harness import Command
from tests.support.osv_data import EXPECTED, RECORDS, write_directory, write_export


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'osv.db'}")
    await database.connect()
    await database.create_schema()
    loaded = loader.load(write_export(tmp_path / "export.zip"))
    await store.replace_all(database, loaded.records.values())
    yield database
    await database.disconnect()


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "version", "expected"), EXPECTED)
async def test_findings_per_release(db: Database, name: str, version: str, expected: set[str]) -> None:
    findings = await OsvProvider(db).findings(name, version)
    assert {f["id"] for f in findings} == expected


@pytest.mark.anyio
async def test_aliases_merge_into_one_finding_with_the_highest_severity(db: Database) -> None:
    findings = await OsvProvider(db).findings("libvuln", "1.0")
    merged = next(f for f in findings if f["id"] == "PYSEC-2024-1")
    assert merged["aliases"] == ["CVE-2024-1111", "GHSA-aaaa-bbbb-cccc"]
    assert (merged["severity"], merged["cvss_score"], merged["severity_source"]) == ("critical", 9.8, "CVSS_V3")
    assert merged["fixed_versions"] == ["1.5", "2.2"]
    assert merged["summary"] == "Test advisory PYSEC-2024-1"
    assert (merged["package"], merged["version"]) == ("libvuln", "1.0")
    listed = next(f for f in findings if f["id"] == "PYSEC-2024-2")
    assert (listed["severity"], listed["severity_source"], listed["fixed_versions"]) == ("high", "CVSS_V2", [])
    assert [f["id"] for f in findings] == ["PYSEC-2024-1", "PYSEC-2024-2"]  # most severe first


def _record(record_id: str) -> dict[str, Any]:
    return next(r for r in RECORDS if r["id"] == record_id)


@pytest.mark.parametrize(
    ("record_id", "name", "version", "level", "source"),
    [
        ("GHSA-aaaa-bbbb-cccc", "libvuln", "1.0", "critical", "CVSS_V3"),
        ("PYSEC-2024-2", "libvuln", "1.0", "high", "CVSS_V2"),
        ("GHSA-dddd-eeee-ffff", "medlib", "1.2", "medium", "label"),
        ("OSV-2024-3", "lowlib", "1.0", "low", "CVSS_V4"),  # per-package severity
        ("PYSEC-2024-5", "dualsev", "1.5", "high", "CVSS_V4"),  # v4 before v3
        ("PYSEC-2024-6", "badvector", "1", "high", "label"),  # unreadable vector: the label
        ("PYSEC-2024-8", "multiwin", "1.0", None, None),  # nothing says
    ],
)
def test_severity_sources(record_id: str, name: str, version: str, level: str | None, source: str | None) -> None:
    record = parse_record(_record(record_id))
    assert record is not None
    severity = severity_of(record, affects(record, name, version))
    assert (severity.level, severity.source) == (level, source)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, "low"),
        (3.9, "low"),
        (4.0, "medium"),
        (6.9, "medium"),
        (7.0, "high"),
        (8.9, "high"),
        (9.0, "critical"),
        (10.0, "critical"),
    ],
)
def test_score_bands(score: float, level: str) -> None:
    assert level_for(score) == level


def test_withdrawn_and_foreign_records_parse_to_nothing() -> None:
    assert parse_record(_record("PYSEC-2024-4")) is None
    assert parse_record(_record("GHSA-gggg-hhhh-iiii")) is None


def test_a_stored_document_reads_back_the_same() -> None:
    for raw in RECORDS:
        record = parse_record(raw)
        if record is not None:
            assert parse_record(json.loads(json.dumps(record.as_document()))) == record


def _with(**changes: Any) -> dict[str, Any]:
    return {**_record("PYSEC-2024-1"), **changes}


def _affected(**changes: Any) -> dict[str, Any]:
    return _with(affected=[{"package": {"ecosystem": "PyPI", "name": "x"}, **changes}])


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "record must be an object"),
        ({**_with(), "id": ""}, "id must be a non-empty string"),
        ({**_with(), "id": "../../etc/passwd"}, "is not an OSV identifier"),
        (_with(aliases="CVE-1"), "aliases must be a list"),
        (_with(aliases=["ok", "<script>"]), "is not an OSV identifier"),
        (_with(affected={"package": "x"}), "affected must be a list"),
        (_with(affected=[{"package": {"ecosystem": "PyPI"}}]), "package.name must be a non-empty string"),
        (_affected(ranges=[{"type": "ECOSYSTEM", "events": [{"fixed": "1.0"}]}]), "needs an 'introduced' event"),
        (_affected(ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "not a version!"}]}]), "not a PEP 440"),
        (_affected(ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]), "an event is one"),
        (_affected(ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": 1}]}]), "must be a non-empty string"),
        (_affected(versions=[1.0]), "versions must be a string"),
        (_affected(versions=["1"] * 10_001), "more than 10000 items"),
        (_with(severity=[{"type": "CVSS_V3"}]), "score must be a non-empty string"),
        (_with(modified=12), "modified must be a string"),
        (_with(summary=["x"]), "summary must be a string"),
    ],
)
def test_invalid_records_are_refused_with_a_reason(document: Any, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason.replace("(", r"\(").replace("'", "'")):
        parse_record(document)


def test_a_long_summary_is_trimmed_not_refused() -> None:
    record = parse_record(_with(summary="word " * 1000))
    assert record is not None and len(record.summary) == 500


def test_loader_reads_zip_and_directory_alike(tmp_path: Path) -> None:
    from_zip = loader.load(write_export(tmp_path / "all.zip"))
    from_dir = loader.load(write_directory(tmp_path / "records"))
    assert from_zip.records == from_dir.records
    assert len(from_zip.records) == len(RECORDS) - 2 and from_zip.ignored == 2 and from_zip.invalid == 0


def test_loader_refuses_bad_members_and_keeps_the_good(tmp_path: Path) -> None:
    export = tmp_path / "mixed.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PYSEC-2024-1.json", json.dumps(_record("PYSEC-2024-1")))
        archive.writestr("broken.json", "{not json")
        archive.writestr("list.json", "[1, 2]")
        archive.writestr("deep.json", "[" * 100_000 + "]" * 100_000)
        archive.writestr("huge.json", b" " * (loader.MAX_RECORD_BYTES + 1))  # compresses to almost nothing
        archive.writestr("README.txt", "not a record")
    loaded = loader.load(export)
    assert list(loaded.records) == ["PYSEC-2024-1"]
    assert loaded.invalid == 4
    problems = "\n".join(loaded.problems)
    for expected in (
        "broken.json: not valid JSON",
        "list.json: record must be an object",
        "deep.json:",
        "huge.json: larger than",
    ):
        assert expected in problems


def test_a_newer_copy_of_a_record_wins(tmp_path: Path) -> None:
    older = {**_record("PYSEC-2024-2"), "modified": "2024-01-01T00:00:00Z"}
    newer = {**_record("PYSEC-2024-2"), "modified": "2025-01-01T00:00:00Z", "summary": "newer"}
    root = tmp_path / "records"
    (root / "a").mkdir(parents=True)
    (root / "a" / "1.json").write_text(json.dumps(newer))
    (root / "b").mkdir()
    (root / "b" / "2.json").write_text(json.dumps(older))
    assert loader.load(root).records["PYSEC-2024-2"].summary == "newer"


def test_loader_refuses_what_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("hello")
    for path, reason in (
        (tmp_path / "plain.txt", "neither a zip file nor a directory"),
        (tmp_path / "missing.zip", "does not exist"),
    ):
        with pytest.raises(loader.LoadError, match=reason):
            loader.load(path)


def _stored_ids(data: Path) -> list[str]:
    return [row[0] for row in StateReader(data).rows("SELECT id FROM osv_records ORDER BY id")]


def test_cli_import_replaces_the_records_in_one_go(tmp_path: Path, command: Command) -> None:
    data = tmp_path / "data"
    first = command("osv", "import", write_export(tmp_path / "all.zip"), "--data-dir", data)
    assert first.returncode == 0, first.stderr
    assert f"Imported {len(RECORDS) - 2} OSV records" in first.stdout and "2 withdrawn or not for PyPI" in first.stdout
    assert len(_stored_ids(data)) == len(RECORDS) - 2

    smaller = write_directory(tmp_path / "dir", [_record("PYSEC-2024-2"), {"id": "bad", "affected": "x"}])
    second = command("osv", "import", smaller, "--data-dir", data)
    assert second.returncode == 0, second.stderr
    assert "Imported 1 OSV records" in second.stdout and "1 refused" in second.stdout
    assert "refused bad.json: record bad: affected must be a list" in second.stdout
    assert _stored_ids(data) == ["PYSEC-2024-2"]


def test_cli_import_of_nothing_usable_changes_nothing(tmp_path: Path, command: Command) -> None:
    data = tmp_path / "data"
    assert command("osv", "import", write_export(tmp_path / "all.zip"), "--data-dir", data).returncode == 0
    before = _stored_ids(data)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.json").write_text("{")
    for path, message in ((junk, "holds no usable PyPI records"), (tmp_path / "nope", "does not exist")):
        result = command("osv", "import", path, "--data-dir", data)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "refused x.json: not valid JSON" in command("osv", "import", junk, "--data-dir", data).stderr
    assert _stored_ids(data) == before


def test_merge_is_transitive_across_aliases() -> None:
    """A names B, C names B: all three are one vulnerability."""
    documents = [
        {
            "id": "PYSEC-1",
            "aliases": ["CVE-9"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "p"}, "versions": ["1"]}],
        },
        {
            "id": "GHSA-2",
            "aliases": ["CVE-9"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "p"}, "versions": ["1"]}],
        },
        {"id": "OSV-3", "affected": [{"package": {"ecosystem": "PyPI", "name": "p"}, "versions": ["1"]}]},
    ]
    from qarion_pypi.osv.provider import Match

    matches = []
    for document in documents:
        record = parse_record(document)
        assert record is not None
        matches.append(Match(record, tuple(affects(record, "p", "1"))))
    findings = merge_findings(matches, "p", "1")
    assert [(f["id"], f["aliases"]) for f in findings] == [("OSV-3", []), ("PYSEC-1", ["CVE-9", "GHSA-2"])]
