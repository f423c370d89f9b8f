"""Core metadata parsing: strict, but tolerant of the one historical mislabelling pip accepts."""

from __future__ import annotations

import pytest
from packaging.version import Version

from qarion_pypi.distributions.metadata import parse_core_metadata
from qarion_pypi.errors import BadRequest

BASE = b"Metadata-Version: 2.1\nName: Flask-Login\nVersion: 0.6.3\nSummary:  User sessions \n"


def test_fields() -> None:
    parsed = parse_core_metadata(BASE + b"Requires-Python: >=3.7, <4\nRequires-Dist: Werkzeug>=1.0.1\n")
    assert (parsed.name, parsed.normalized_name, parsed.version) == ("Flask-Login", "flask-login", Version("0.6.3"))
    assert parsed.summary == "User sessions"
    assert parsed.requires_python == ">=3.7, <4"
    assert parsed.requires_dist == ("Werkzeug>=1.0.1",)


def test_a_field_newer_than_the_declared_version_is_tolerated() -> None:
    # setuptools wrote License-File (a 2.4 field) into 2.1 metadata for years.
    parsed = parse_core_metadata(BASE + b"License-File: LICENSE\n")
    assert parsed.normalized_name == "flask-login"


def test_other_errors_are_still_reported_alongside_it() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_core_metadata(BASE + b"License-File: LICENSE\nRequires-Python: >=three\n")
    assert "requires-python" in caught.value.detail.lower()
    assert "license-file" not in caught.value.detail.lower()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Name: x\n",
        b"Metadata-Version: 2.1\nName: x\n",
        b"Metadata-Version: 7.0\nName: x\nVersion: 1\n",
        b"Metadata-Version: 2.1\nName: -x-\nVersion: 1\n",
        b"\xff\xfe\x00garbage",
    ],
)
def test_invalid_metadata(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="Invalid distribution metadata"):
        parse_core_metadata(raw)


def test_the_pep_426_draft_version_is_read_as_2_1() -> None:
    parsed = parse_core_metadata(b"Metadata-Version: 2.0\nName: nose\nVersion: 1.3.7\n")
    assert parsed.metadata_version == "2.1"
    assert parsed.raw.startswith(b"Metadata-Version: 2.0")  # served exactly as uploaded


def test_unknown_headers_are_ignored() -> None:
    assert parse_core_metadata(BASE + b"X-Custom-Header: yes\n").name == "Flask-Login"


@pytest.mark.parametrize(
    ("metadata_version", "extra", "distribution_type", "trusted"),
    [
        ("2.1", "", "wheel", True),  # a wheel's metadata is what installs
        ("2.1", "", "sdist", False),  # before 2.2, setup.py may add what PKG-INFO lacks
        ("2.2", "", "sdist", True),
        ("2.4", "Requires-Dist: lib\n", "sdist", True),
        ("2.2", "Dynamic: Requires-Dist\n", "sdist", False),
        ("2.2", "Dynamic: requires-python\n", "sdist", False),
        ("2.3", "Dynamic: Provides-Extra\n", "sdist", False),
        ("2.2", "Dynamic: Summary\nDynamic: Description\n", "sdist", True),  # not what resolvers read
        ("2.2", "Dynamic: Requires-Dist\n", "wheel", True),
    ],
)
def test_pep_643_decides_whether_resolvers_may_trust_an_sdist(
    metadata_version: str, extra: str, distribution_type: str, trusted: bool
) -> None:
    raw = f"Metadata-Version: {metadata_version}\nName: demo\nVersion: 1.0\n{extra}".encode()
    assert parse_core_metadata(raw).trusted_for(distribution_type) is trusted


def test_resolver_fields_keep_the_author_s_spelling() -> None:
    raw = (
        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: lib[Speed]>=1; extra == 'fast'\n"
        b"Requires-External: libpq (>=10)\nProvides-Extra: fast\n"
    )
    parsed = parse_core_metadata(raw)
    assert parsed.requires_dist == ("lib[Speed]>=1; extra == 'fast'",)
    assert parsed.requires_external == ("libpq (>=10)",)
    assert parsed.provides_extra == ("fast",)


@pytest.mark.parametrize("value", ["nul\x00inside", "bell\x07", "escape\x1b[31m"])
def test_control_characters_in_stored_fields_are_refused(value: str) -> None:
    with pytest.raises(BadRequest, match="control characters"):
        parse_core_metadata(BASE + f"Requires-External: {value}\n".encode())
