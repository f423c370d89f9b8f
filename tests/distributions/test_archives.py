"""Reading core metadata out of archives (the refusals are in tests/api/test_uploads.py, through
the upload doors)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from qarion_pypi.config import Settings
from qarion_pypi.distributions.archives import ArchiveLimits, _check_member_path, quick_to_read, read_core_metadata
from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest

METADATA = b"Metadata-Version: 2.1\nName: many\nVersion: 1.0\n"


@pytest.mark.parametrize(
    "name",
    ["a", "a/b", "a/b/", "a//b", "./a/b", "a/./b", "a/.", ".", "a/..b", "..a/b", "a b/c", "x-1.0.dist-info/RECORD"],
)
def test_member_paths_split_as_posix_paths_do(name: str) -> None:
    assert _check_member_path(name) == list(PurePosixPath(name).parts)


@pytest.mark.parametrize("name", ["../a", "a/../b", "a/..", "/a", "a\\b", "c:/a"])
def test_unsafe_member_paths_are_refused(name: str) -> None:
    with pytest.raises(BadRequest, match="unsafe path"):
        _check_member_path(name)


def test_a_wheel_of_thousands_of_members_spelt_loosely_is_read(tmp_path: Path) -> None:
    path = tmp_path / "many-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(3000):
            archive.writestr(f"many/sub{i % 30}//mod_{i}.py", "x = 1\n")
        archive.writestr("many-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        archive.writestr("many-1.0.dist-info/RECORD", "")
        archive.writestr("many-1.0.dist-info/METADATA", METADATA)
    limits = ArchiveLimits.of(Settings())
    assert read_core_metadata(path, parse_dist_filename(path.name), limits) == METADATA


def _wheel_bytes(members: dict[str, bytes], metadata: bytes = METADATA) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("many-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        archive.writestr("many-1.0.dist-info/RECORD", "")
        archive.writestr("many-1.0.dist-info/METADATA", metadata)
    return buffer.getvalue()


WHEEL = parse_dist_filename("many-1.0-py3-none-any.whl")


def test_an_archive_in_memory_reads_as_its_file_does(tmp_path: Path) -> None:
    data = _wheel_bytes({"many/__init__.py": b"", "many/data.bin": os.urandom(50_000)})
    path = tmp_path / "many-1.0-py3-none-any.whl"
    path.write_bytes(data)
    limits = ArchiveLimits.of(Settings())
    assert read_core_metadata(io.BytesIO(data), WHEEL, limits) == read_core_metadata(path, WHEEL, limits) == METADATA


@pytest.mark.parametrize(
    ("data", "quick"),
    [
        (_wheel_bytes({"many/__init__.py": b"", "many/data.bin": os.urandom(100_000)}), True),
        (_wheel_bytes({f"many/mod_{i}.py": b"" for i in range(100)}), False),  # many members
        (_wheel_bytes({}, METADATA + b"Description: " + b"x" * 70_000 + b"\n"), False),  # inflates far
        (_wheel_bytes({"many/data.bin": os.urandom(300_000)}), False),  # large
        (b"not a zip at all", False),
    ],
    ids=["small", "many-members", "large-metadata", "large", "garbage"],
)
def test_only_a_small_wheel_with_small_metadata_is_quick_to_read(data: bytes, quick: bool) -> None:
    assert quick_to_read(data, WHEEL) is quick


def test_a_malformed_archive_is_refused_wherever_it_is_read() -> None:
    whole = _wheel_bytes({})
    cut = whole[:-30] + whole[-22:]  # the end record kept, the central directory cut short
    assert isinstance(quick_to_read(cut, WHEEL), bool)  # only a cost estimate: it never raises
    with pytest.raises(BadRequest, match="Invalid distribution file"):
        read_core_metadata(io.BytesIO(cut), WHEEL, ArchiveLimits.of(Settings()))


def test_an_sdist_is_never_quick_to_read() -> None:
    assert not quick_to_read(b"\x1f\x8b", parse_dist_filename("many-1.0.tar.gz"))
