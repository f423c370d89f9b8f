"""Core metadata (the METADATA/PKG-INFO file), parsed and validated with packaging.metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass

import anyio.to_thread
from packaging.metadata import InvalidMetadata, Metadata, parse_email
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from qarion_pypi.errors import BadRequest

# Known fields whose value could not be parsed are errors; other unparsed keys are unknown
# headers, which installers ignore and so do we.
_KNOWN_HEADERS = {
    "metadata-version", "name", "version", "dynamic", "platform", "supported-platform", "summary",
    "description", "description-content-type", "keywords", "home-page", "download-url", "author",
    "author-email", "maintainer", "maintainer-email", "license", "license-expression", "license-file",
    "classifier", "requires-dist", "requires-python", "requires-external", "project-url",
    "provides-extra", "provides-dist", "obsoletes-dist", "requires", "provides", "obsoletes",
    "import-name", "import-namespace",
}  # fmt: skip


# PEP 643: what resolvers read from core metadata. An sdist's metadata may stand in for its
# build's only when none of these is left to the build (Dynamic) and the format knows Dynamic.
RESOLVER_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})
_STATIC_SINCE = Version("2.2")
# Real METADATA files with every extra spelled out stay in the low thousands of header lines.
MAX_HEADER_LINES = 10_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CoreMetadata:
    raw: bytes
    name: str
    normalized_name: NormalizedName
    version: Version
    metadata_version: str
    summary: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    requires_external: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()
    dynamic: frozenset[str] = frozenset()  # lowercased field names
    license: str | None = None
    license_expression: str | None = None

    def trusted_for(self, distribution_type: str) -> bool:
        """May resolvers use this metadata instead of building the distribution (PEP 658/643)?

        A wheel's metadata is what installs. An sdist's PKG-INFO is only when it is at least
        Metadata-Version 2.2 and marks none of the resolver's fields Dynamic; older sdists
        declare their dependencies in setup.py, which only a build reveals."""
        if distribution_type == "wheel":
            return True
        return Version(self.metadata_version) >= _STATIC_SINCE and not (self.dynamic & RESOLVER_FIELDS)


async def parse_off_loop(raw: bytes) -> CoreMetadata:
    """``parse_core_metadata`` in a worker thread: parsing costs CPU in proportion to the input,
    and no request should wait behind someone else's metadata."""
    return await anyio.to_thread.run_sync(parse_core_metadata, raw)


def parse_core_metadata(raw: bytes) -> CoreMetadata:
    """Parse strictly, reporting every problem at once, with three historical tolerances.

    Wheels on every existing index carry them and pip installs them, so imports must too:
    - ``Metadata-Version: 2.0`` (the PEP 426 draft bdist_wheel wrote for years) is read as 2.1;
    - a field newer than the declared version (setuptools wrote License-File into 2.1);
    - unknown extra headers are ignored.
    """
    header = raw.split(b"\n\n", 1)[0]
    if header.count(b"\n") >= MAX_HEADER_LINES:  # checked before anything is parsed
        raise BadRequest(f"Invalid distribution metadata: more than {MAX_HEADER_LINES} header lines.")
    fields, unparsed = parse_email(raw)
    problems = [f"{key!r} has invalid data" for key in unparsed if key.lower() in _KNOWN_HEADERS]
    if fields.get("metadata_version") == "2.0":
        fields["metadata_version"] = "2.1"
    try:
        metadata = Metadata.from_raw(fields, validate=True)
    except ExceptionGroup as group:
        problems += [_describe(exc) for exc in group.exceptions if not _is_mislabelled_version(exc)]
        metadata = Metadata.from_raw(fields, validate=False)
    problems += [
        f"{field!r} contains control characters"
        for field in ("summary", "requires_external", "requires_python")
        if any(_CONTROL.search(value) for value in _values(fields.get(field)))
    ]
    if problems:
        raise BadRequest("Invalid distribution metadata: " + "; ".join(sorted(problems)))
    try:
        return CoreMetadata(
            raw=raw,
            name=metadata.name,
            normalized_name=canonicalize_name(metadata.name),
            version=metadata.version,
            metadata_version=metadata.metadata_version,
            summary=(metadata.summary or "").strip(),
            # Keep the author's own spelling: str(SpecifierSet) would reorder the specifiers.
            requires_python=fields.get("requires_python") or None,
            requires_dist=tuple(fields.get("requires_dist", ())),
            requires_external=tuple(fields.get("requires_external", ())),
            provides_extra=tuple(fields.get("provides_extra", ())),
            dynamic=frozenset(name.lower() for name in fields.get("dynamic", ())),
            license=fields.get("license"),
            license_expression=fields.get("license_expression"),
        )
    except (InvalidMetadata, ValueError) as exc:
        raise BadRequest(f"Invalid distribution metadata: {exc}") from None


def _values(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _is_mislabelled_version(exc: BaseException) -> bool:
    return isinstance(exc, InvalidMetadata) and "introduced in metadata version" in str(exc)


def _describe(exc: BaseException) -> str:
    field = getattr(exc, "field", None)
    text = str(exc)
    if field and field not in text:
        return f"{field}: {text}"
    return text
