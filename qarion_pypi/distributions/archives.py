"""Read core metadata out of a distribution archive without extracting anything to disk.

Every read is bounded: members are checked for unsafe paths and compression methods, and the
total uncompressed size is capped relative to the archive's own size (zip and gzip bombs).
These functions block; callers run them in a worker thread, except the read of a small wheel
still in memory that ``quick_to_read`` bounds, which costs less than the trip to a thread.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.config import Settings
from qarion_pypi.distributions.filenames import DistFilename
from qarion_pypi.errors import BadRequest

_ALLOWED_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
# Small archives may legitimately expand more than the ratio allows (a few KiB of zeros, say).
_EXPANSION_FLOOR = 64 * 1024 * 1024
# A wheel read on the event loop (``quick_to_read``): a fraction of a millisecond of work, less
# than handing it to a thread and back costs.
_QUICK_BYTES = 256 * 1024
_QUICK_MEMBERS = 64
_QUICK_METADATA = 64 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_metadata_bytes: int
    max_compression_ratio: int
    max_members: int = 100_000

    @classmethod
    def of(cls, settings: Settings) -> ArchiveLimits:
        return cls(settings.max_metadata_bytes, settings.max_compression_ratio, settings.max_archive_members)

    def max_expanded(self, archive_size: int) -> int:
        return max(_EXPANSION_FLOOR, archive_size * self.max_compression_ratio)


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"Invalid distribution file: {reason}")


def _parts(name: str) -> list[str]:
    """A member name's path components, as ``PurePosixPath(name).parts`` has them for a name that
    is not absolute (empty and ``.`` components dropped)."""
    return [part for part in name.split("/") if part and part != "."]


def _check_member_path(name: str) -> list[str]:
    """The components of a safe member path: relative, no ``..``, no backslash, no drive."""
    parts = _parts(name)
    if name.startswith("/") or "\\" in name or ".." in parts or (parts and ":" in parts[0]):
        raise _invalid(f"archive member {name!r} has an unsafe path.")
    return parts


def _matches(dist: DistFilename, stem: str) -> bool:
    """Is ``stem`` (``name-version``) the same project and version as the filename?"""
    name, sep, version = stem.rpartition("-")
    if not sep:
        return False
    try:
        return canonicalize_name(name) == dist.name and Version(version) == dist.version
    except InvalidVersion:
        return False


def read_core_metadata(source: Path | BinaryIO, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    """The METADATA (wheel) or PKG-INFO (sdist) bytes of the archive at ``source``: a path, or a
    seekable binary stream positioned anywhere (an upload still in memory)."""
    with _opened(source) as (handle, size):
        if dist.extension == ".tar.gz":
            return _read_tar_gz(handle, size, dist, limits)
        return _read_zip(handle, size, dist, limits)


def quick_to_read(data: bytes, dist: DistFilename) -> bool:
    """Is this archive, whole in memory, a small wheel whose reading costs less than a trip to a
    worker thread and back: a few members, and a small METADATA (the only member inflated)? Its
    central directory says so, in a walk of at most ``_QUICK_MEMBERS`` records. Anything else (an
    sdist inflates its whole stream) is read in a thread, which also refuses what is malformed."""
    if dist.extension == ".tar.gz" or len(data) > _QUICK_BYTES:
        return False
    end = _end_record(data, max(0, len(data) - _END.size - 0xFFFF))
    if end is None:
        return False
    _, _, _, _, entries, _, position, _ = _END.unpack_from(data, end)
    if entries > _QUICK_MEMBERS:
        return False
    metadata = 0
    for _ in range(entries):
        if position + _CENTRAL.size > end or data[position : position + 4] != b"PK\x01\x02":
            return False
        size, name_length, extra_length, comment_length = _CENTRAL.unpack_from(data, position)[1:]
        name_at = position + _CENTRAL.size
        if data[name_at : name_at + name_length].endswith(b"/METADATA"):
            metadata += size
        position = name_at + name_length + extra_length + comment_length
    return metadata <= _QUICK_METADATA


@contextmanager
def _opened(source: Path | BinaryIO) -> Iterator[tuple[BinaryIO, int]]:
    if isinstance(source, Path):
        with open(source, "rb") as handle:
            yield handle, os.fstat(handle.fileno()).st_size
        return
    yield source, source.seek(0, io.SEEK_END)


def _read_zip(handle: BinaryIO, size: int, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    entries = _zip_layout(handle, size)
    if entries > limits.max_members:
        raise _invalid(f"the archive has more than {limits.max_members} members.")
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _invalid("not a valid ZIP archive.") from None
    with archive:
        infos = archive.infolist()
        _check_zip_members(infos, size, limits)
        if dist.distribution_type == "wheel":
            dist_info = _wheel_dist_info(infos, dist)
            names = {info.filename for info in infos}
            for required in ("WHEEL", "RECORD"):
                if f"{dist_info}/{required}" not in names:
                    raise BadRequest(
                        f"Wheel '{dist.filename}' does not contain the required {required} file: {dist_info}/{required}"
                    )
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
            with archive.open(info) as member_handle:
                data = member_handle.read(limits.max_metadata_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
            raise _invalid(f"{member} is corrupt (bad CRC or compressed data).") from None
        if len(data) > limits.max_metadata_bytes:
            raise _invalid(f"{member} is larger than {limits.max_metadata_bytes} bytes.")
        return data


_LOCAL_HEADER = b"PK\x03\x04"
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
# A central directory record's signature, then (skipped) its fields up to the uncompressed size,
# which quick_to_read wants, and the lengths of the name, extra field and comment that follow.
_CENTRAL = struct.Struct("<4s20xL3H12x")


def _zip_layout(handle: BinaryIO, size: int) -> int:
    """The archive's member count, read from its end record before anything else is, after
    checking that the archive is nothing but a ZIP: it starts with a local file header, its
    central directory ends where its end records begin, and nothing follows them (the shapes a
    ZIP/tar polyglot or appended data would have)."""
    handle.seek(0)
    head = handle.read(4)
    handle.seek(max(0, size - _END.size - 0xFFFF))
    tail = handle.read()
    position = _end_record(tail)
    if position is None:
        raise _invalid("not a valid ZIP archive.")
    if head != _LOCAL_HEADER:
        raise _invalid("the ZIP archive has data before its first member.")
    _, _, _, _, entries, directory_size, directory_offset, comment = _END.unpack_from(tail, position)
    end_at = size - len(tail) + position
    if end_at + _END.size + comment != size:
        raise _invalid("the ZIP archive has data after its end.")
    starts = end_at
    if 0xFFFF in (entries,) or 0xFFFFFFFF in (directory_size, directory_offset):
        entries, directory_size, directory_offset, starts = _zip64_end(handle, end_at)
    if directory_offset + directory_size != starts:
        raise _invalid("the ZIP archive's central directory is not where its end record says.")
    return int(entries)


def _end_record(data: bytes, start: int = 0) -> int | None:
    """Where the last end-of-central-directory record in ``data[start:]`` begins, if it is whole."""
    position = data.rfind(b"PK\x05\x06", start)
    return position if position >= 0 and len(data) - position >= _END.size else None


def _zip64_end(handle: BinaryIO, end_at: int) -> tuple[int, int, int, int]:
    """(entries, directory size, directory offset, where the ZIP64 end record starts)."""
    if end_at < _END64_LOCATOR.size:
        raise _invalid("not a valid ZIP64 archive.")
    handle.seek(end_at - _END64_LOCATOR.size)
    signature, _, record_at, _ = _END64_LOCATOR.unpack(handle.read(_END64_LOCATOR.size))
    if signature != b"PK\x06\x07" or record_at + _END64.size != end_at - _END64_LOCATOR.size:
        raise _invalid("not a valid ZIP64 archive (misplaced end records).")
    handle.seek(record_at)
    fields = _END64.unpack(handle.read(_END64.size))
    if fields[0] != b"PK\x06\x06":
        raise _invalid("not a valid ZIP64 archive.")
    return fields[7], fields[8], fields[9], record_at


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
    tops = (_parts(info.filename)[:1] for info in infos)
    candidates = {top[0] for top in tops if top and top[0].endswith(".dist-info")}
    matching = sorted(c for c in candidates if _matches(dist, c.removesuffix(".dist-info")))
    if len(matching) > 1:
        raise _invalid(f"wheel has more than one .dist-info directory: {', '.join(matching)}.")
    if not matching:
        expected = f"{dist.filename.split('-')[0]}-{dist.filename.split('-')[1]}.dist-info/METADATA"
        raise BadRequest(f"Wheel '{dist.filename}' does not contain the required METADATA file: {expected}")
    return matching[0]


def _single_top_level(names: list[str], dist: DistFilename) -> str:
    tops = {parts[0] for parts in map(_parts, names) if parts}
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


def _read_tar_gz(handle: BinaryIO, size: int, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    limit = limits.max_expanded(size)
    handle.seek(0)
    if handle.read(2) != b"\x1f\x8b":
        raise _invalid("not a valid gzip-compressed tar archive.")
    handle.seek(0)
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as raw:
            stream = _BoundedReader(raw, limit)
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
                found = _scan_tar(archive, dist, limits)
            _check_tar_end(stream)
            return found
    except BadRequest:
        raise
    except gzip.BadGzipFile:
        raise _invalid("the gzip stream is not valid, or has data after its end.") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise _invalid("not a valid gzip-compressed tar archive.") from None


def _check_tar_end(stream: _BoundedReader) -> None:
    """After the tar archive's end marker only its zero padding may follow: no second archive,
    no appended file (the shapes of a tar/ZIP polyglot)."""
    while chunk := stream.read(64 * 1024):
        if chunk.strip(b"\x00"):
            raise _invalid("the archive has data after its end.")


def _scan_tar(archive: tarfile.TarFile, dist: DistFilename, limits: ArchiveLimits) -> bytes:
    """Walk every member once (streaming), checking paths, and keep PKG-INFO when it passes."""
    tops: set[str] = set()
    found: dict[str, bytes] = {}
    count = 0
    for member in archive:
        archive.members.clear()  # type: ignore[attr-defined]  # streamed: nothing looks back, keep nothing
        count += 1
        if count > limits.max_members:
            raise _invalid(f"the archive has more than {limits.max_members} members.")
        parts = _check_member_path(member.name)
        if member.issym() or member.islnk():
            _check_member_path(member.linkname)
            if member.linkname.startswith("/"):
                raise _invalid(f"archive member {member.name!r} links outside the archive.")
        elif not (member.isfile() or member.isdir()):
            raise _invalid(f"archive member {member.name!r} is not a regular file or directory.")
        if not parts:
            continue
        tops.add(parts[0])
        if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
            if member.size > limits.max_metadata_bytes:
                raise _invalid(f"{member.name} is larger than {limits.max_metadata_bytes} bytes.")
            handle = archive.extractfile(member)
            if handle is not None:
                found[parts[0]] = handle.read(limits.max_metadata_bytes + 1)
    if count == 0:
        raise _invalid("the tar archive is empty.")
    top = _single_top_level(sorted(tops), dist)
    if top not in found:
        raise BadRequest(
            f"Source distribution '{dist.filename}' does not contain the required PKG-INFO file: {top}/PKG-INFO"
        )
    return found[top]
