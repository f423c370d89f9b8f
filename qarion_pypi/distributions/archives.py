"""Read core metadata out of a distribution archive without extracting anything to disk.

Every read is bounded: members are checked for unsafe paths and compression methods, and the
total uncompressed size is capped relative to the archive's own size (zip and gzip bombs).
These functions block; callers run them in a worker thread.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.distributions.filenames import DistFilename
from qarion_pypi.errors import BadRequest

_ALLOWED_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
# Small archives may legitimately expand more than the ratio allows (a few KiB of zeros, say).
_EXPANSION_FLOOR = 64 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_metadata_bytes: int
    max_compression_ratio: int

    def max_expanded(self, archive_size: int) -> int:
        return max(_EXPANSION_FLOOR, archive_size * self.max_compression_ratio)


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"Invalid distribution file: {reason}")


def _check_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise _invalid(f"archive member {name!r} has an unsafe path.")
    return path


def _matches(dist: DistFilename, stem: str) -> bool:
    """Is ``stem`` (``name-version``) the same project and version as the filename?"""
    name, sep, version = stem.rpartition("-")
    if not sep:
        return False
    try:
        return canonicalize_name(name) == dist.name and Version(version) == dist.version
    except InvalidVersion:
        return False


def read_core_metadata(path: Path, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    """The METADATA (wheel) or PKG-INFO (sdist) bytes of the archive at ``path``."""
    if dist.extension == ".tar.gz":
        return _read_tar_gz(path, dist, limits)
    return _read_zip(path, dist, limits)


def _read_zip(path: Path, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _invalid("not a valid ZIP archive.") from None
    with archive:
        infos = archive.infolist()
        _check_zip_members(infos, path.stat().st_size, limits)
        if dist.distribution_type == "wheel":
            dist_info = _wheel_dist_info(infos, dist)
            names = {info.filename for info in infos}
            if f"{dist_info}/WHEEL" not in names:
                raise BadRequest(f"Wheel '{dist.filename}' does not contain the required WHEEL file: {dist_info}/WHEEL")
            member = f"{dist_info}/METADATA"
            missing = f"Wheel '{dist.filename}' does not contain the required METADATA file: {member}"
        else:
            top = _single_top_level(infos_names(infos), dist)
            member = f"{top}/PKG-INFO"
            missing = f"Source distribution '{dist.filename}' does not contain the required PKG-INFO file: {member}"
        try:
            info = archive.getinfo(member)
        except KeyError:
            raise BadRequest(missing) from None
        if info.file_size > limits.max_metadata_bytes:
            raise _invalid(f"{member} is larger than {limits.max_metadata_bytes} bytes.")
        try:
            with archive.open(info) as handle:
                data = handle.read(limits.max_metadata_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
            raise _invalid(f"{member} is corrupt (bad CRC or compressed data).") from None
        if len(data) > limits.max_metadata_bytes:
            raise _invalid(f"{member} is larger than {limits.max_metadata_bytes} bytes.")
        return data


def infos_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    return [info.filename for info in infos]


def _check_zip_members(infos: list[zipfile.ZipInfo], archive_size: int, limits: ArchiveLimits) -> None:
    if not infos:
        raise _invalid("the ZIP archive is empty.")
    seen: set[str] = set()
    expanded = 0
    for info in infos:
        _check_member_path(info.filename)
        if info.filename in seen:
            raise _invalid(f"duplicate archive member {info.filename!r}.")
        seen.add(info.filename)
        if info.compress_type not in _ALLOWED_ZIP_METHODS:
            raise _invalid(
                f"archive member {info.filename!r} uses an unsupported compression method "
                f"({info.compress_type}); only stored and deflate are accepted."
            )
        if info.flag_bits & 0x1:
            raise _invalid(f"archive member {info.filename!r} is encrypted.")
        expanded += info.file_size
    if expanded > limits.max_expanded(archive_size):
        raise _invalid("the archive expands to more than the allowed size (possible zip bomb).")


def _wheel_dist_info(infos: list[zipfile.ZipInfo], dist: DistFilename) -> str:
    candidates = {
        PurePosixPath(info.filename).parts[0]
        for info in infos
        if PurePosixPath(info.filename).parts and PurePosixPath(info.filename).parts[0].endswith(".dist-info")
    }
    matching = sorted(c for c in candidates if _matches(dist, c.removesuffix(".dist-info")))
    if len(matching) > 1:
        raise _invalid(f"wheel has more than one .dist-info directory: {', '.join(matching)}.")
    if not matching:
        expected = f"{dist.filename.split('-')[0]}-{dist.filename.split('-')[1]}.dist-info/METADATA"
        raise BadRequest(f"Wheel '{dist.filename}' does not contain the required METADATA file: {expected}")
    return matching[0]


def _single_top_level(names: list[str], dist: DistFilename) -> str:
    tops = {PurePosixPath(name).parts[0] for name in names if PurePosixPath(name).parts}
    if len(tops) != 1:
        raise _invalid("a source distribution must contain exactly one top-level directory.")
    (top,) = tops
    if not _matches(dist, top):
        raise _invalid(f"top-level directory {top!r} does not match the filename's name and version.")
    return top


class _BoundedReader:
    """A read-only stream that fails once more than ``limit`` decompressed bytes are read."""

    def __init__(self, inner: IO[bytes] | gzip.GzipFile, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._read += len(data)
        if self._read > self._limit:
            raise _invalid("the archive expands to more than the allowed size (possible gzip bomb).")
        return data


def _read_tar_gz(path: Path, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    limit = limits.max_expanded(path.stat().st_size)
    try:
        with gzip.open(path, "rb") as raw:
            stream = _BoundedReader(raw, limit)
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
                return _scan_tar(archive, dist, limits)
    except BadRequest:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise _invalid("not a valid gzip-compressed tar archive.") from None


def _scan_tar(archive: tarfile.TarFile, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    """Walk every member once (streaming), checking paths, and keep PKG-INFO when it passes."""
    tops: set[str] = set()
    found: dict[str, bytes] = {}
    count = 0
    for member in archive:
        count += 1
        path = _check_member_path(member.name)
        if member.issym() or member.islnk():
            _check_member_path(member.linkname)
            if member.linkname.startswith("/"):
                raise _invalid(f"archive member {member.name!r} links outside the archive.")
        elif not (member.isfile() or member.isdir()):
            raise _invalid(f"archive member {member.name!r} is not a regular file or directory.")
        if not path.parts:
            continue
        tops.add(path.parts[0])
        if len(path.parts) == 2 and path.parts[1] == "PKG-INFO" and member.isfile():
            if member.size > limits.max_metadata_bytes:
                raise _invalid(f"{member.name} is larger than {limits.max_metadata_bytes} bytes.")
            handle = archive.extractfile(member)
            if handle is not None:
                found[path.parts[0]] = handle.read(limits.max_metadata_bytes + 1)
    if count == 0:
        raise _invalid("the tar archive is empty.")
    top = _single_top_level(sorted(tops), dist)
    if top not in found:
        raise BadRequest(
            f"Source distribution '{dist.filename}' does not contain the required PKG-INFO file: {top}/PKG-INFO"
        )
    return found[top]
