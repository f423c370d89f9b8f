"""Distribution filenames: a table of edge cases and round-trip properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest

names = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9._]{0,20}[A-Za-z0-9])?\Z")
versions = st.builds(
    lambda major, minor, pre: f"{major}.{minor}{pre}",
    st.integers(0, 999),
    st.integers(0, 999),
    st.sampled_from(["", "a1", "b2", "rc3", ".post1", ".dev4"]),
)


@given(names, versions)
def test_wheel_filenames_round_trip(name: str, version: str) -> None:
    escaped = canonicalize_name(name).replace("-", "_")
    dist = parse_dist_filename(f"{escaped}-{version}-py3-none-any.whl")
    assert dist.name == canonicalize_name(name)
    assert dist.version == Version(version)
    assert dist.distribution_type == "wheel"
    assert dist.packagetype == "bdist_wheel"
    assert dist.python_tag == "py3"


@given(names, versions)
def test_sdist_filenames_round_trip(name: str, version: str) -> None:
    escaped = canonicalize_name(name).replace("-", "_")
    dist = parse_dist_filename(f"{escaped}-{version}.tar.gz")
    assert (dist.name, dist.version, dist.python_tag) == (canonicalize_name(name), Version(version), "source")
    assert dist.content_type == "application/gzip"


@given(st.text(max_size=80))
def test_any_text_is_parsed_or_refused_cleanly(filename: str) -> None:
    try:
        dist = parse_dist_filename(filename)
    except BadRequest as exc:
        assert exc.detail
    else:
        assert dist.filename == filename


@pytest.mark.parametrize(
    ("filename", "tags"),
    [
        ("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp311"),
        ("six-1.16.0-py2.py3-none-any.whl", "py2.py3"),
        ("demo-1.0-1build-py3-none-any.whl", "py3"),
    ],
)
def test_wheel_python_tags(filename: str, tags: str) -> None:
    assert parse_dist_filename(filename).python_tag == tags


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("", "does not have a filename"),
        ("a/b-1.0.tar.gz", "'/'"),
        ("a\\b-1.0.tar.gz", "'/'"),
        ("x" * 250 + "-1.0.tar.gz", "too long"),
        ("demo-1.0.tar.gz\n", "printable ASCII"),
        ("demo-1.0\t.tar.gz", "printable ASCII"),
        ("demo-1.0.rpm", "Invalid file extension"),
        ("demo-1.0-py3-none.whl", "Invalid wheel filename"),
        ("de--mo-1.0-py3-none-any.whl", "Invalid wheel filename"),
        ("demo-1.0.0.0.0-x-py3-none-any.whl", "Invalid wheel filename"),
        ("demo.zip", "Invalid source distribution filename"),
    ],
)
def test_refused_filenames(filename: str, message: str) -> None:
    with pytest.raises(BadRequest, match=None) as caught:
        parse_dist_filename(filename)
    assert message in caught.value.detail
