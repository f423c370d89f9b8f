"""Distribution filenames (wheel: PEP 427/491, sdist: PEP 625) parsed into one value type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from qarion_pypi.errors import BadRequest

DistributionType = Literal["wheel", "sdist"]

# The legacy upload API's ``filetype`` for each kind we accept.
PACKAGETYPES: dict[DistributionType, str] = {"wheel": "bdist_wheel", "sdist": "sdist"}

CONTENT_TYPES: dict[str, str] = {
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar.gz": "application/gzip",
}

_MAX_FILENAME = 255


@dataclass(frozen=True)
class DistFilename:
    filename: str
    name: NormalizedName
    version: Version
    distribution_type: DistributionType
    extension: str
    tags: frozenset[Tag] = frozenset()
    build: tuple[int, str] | tuple[()] = ()  # a wheel's build tag

    @property
    def packagetype(self) -> str:
        return PACKAGETYPES[self.distribution_type]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.extension]

    @property
    def python_tag(self) -> str:
        """The ``pyversion`` twine sends: wheel python tags joined, ``source`` for sdists."""
        if self.distribution_type == "sdist":
            return "source"
        return ".".join(sorted({tag.interpreter for tag in self.tags}))


def canonical_version(version: Version | str) -> str:
    """A version as PEP 440 compares it, which tells releases apart: every spelling that compares
    equal has the same one ("1.0", "1.0.0" and "01.0" are all "1"; local labels and pre, post and
    dev parts are kept). Text that is no valid version stays as it is."""
    return canonicalize_version(version)


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse an uploaded filename, or raise BadRequest saying what is wrong with it."""
    _check_plain_name(filename)
    if filename.endswith(".whl"):
        try:
            name, version, build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise BadRequest(f"Invalid wheel filename: {exc}") from None
        _check_tags(filename)
        return DistFilename(filename, name, version, "wheel", ".whl", tags, build)
    for extension in (".tar.gz", ".zip"):
        if filename.endswith(extension):
            try:
                name, version = parse_sdist_filename(filename)
            except InvalidSdistFilename as exc:
                raise BadRequest(f"Invalid source distribution filename: {exc}") from None
            return DistFilename(filename, name, version, "sdist", extension)
    raise BadRequest(
        f"Invalid file extension: {filename!r}. Use .whl for wheels or .tar.gz for source "
        "distributions (.zip is accepted for older sdists)."
    )


_TAG = re.compile(r"[A-Za-z0-9_.]+")


def _check_tags(filename: str) -> None:
    """Wheel tags are made of letters, digits, '_' and '.' (compressed sets): the public index
    refuses anything else, and a '+' or '!' there is no platform any installer knows."""
    for tag in filename.removesuffix(".whl").split("-")[-3:]:
        if not _TAG.fullmatch(tag):
            raise BadRequest(
                f"Invalid wheel filename: the tag {tag!r} has characters other than letters, digits, '_' and '.'."
            )


def _check_plain_name(filename: str) -> None:
    if not filename:
        raise BadRequest("Upload payload does not have a filename.")
    if "/" in filename or "\\" in filename:
        raise BadRequest("Cannot upload a file with '/' or '\\' in the name.")
    if len(filename) > _MAX_FILENAME:
        raise BadRequest(f"Filename is too long ({len(filename)} > {_MAX_FILENAME} characters).")
    if not filename.isprintable() or not filename.isascii():
        raise BadRequest("Filename must be printable ASCII.")
