"""Core metadata (the METADATA/PKG-INFO file), parsed and validated with packaging.metadata."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.metadata import InvalidMetadata, Metadata, parse_email
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from qarion_pypi.errors import BadRequest


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


def parse_core_metadata(raw: bytes) -> CoreMetadata:
    """Parse strictly, reporting every problem at once (packaging raises a group)."""
    try:
        metadata = Metadata.from_email(raw, validate=True)
    except ExceptionGroup as group:
        problems = sorted(_describe(exc) for exc in group.exceptions)
        raise BadRequest("Invalid distribution metadata: " + "; ".join(problems)) from None
    except (InvalidMetadata, ValueError) as exc:
        raise BadRequest(f"Invalid distribution metadata: {exc}") from None
    # Keep the author's own spelling: str(SpecifierSet) would reorder the specifiers.
    fields, _ = parse_email(raw)
    return CoreMetadata(
        raw=raw,
        name=metadata.name,
        normalized_name=canonicalize_name(metadata.name),
        version=metadata.version,
        metadata_version=metadata.metadata_version,
        summary=(metadata.summary or "").strip(),
        requires_python=fields.get("requires_python") or None,
        requires_dist=tuple(fields.get("requires_dist", ())),
    )


def _describe(exc: BaseException) -> str:
    field = getattr(exc, "field", None)
    text = str(exc)
    if field and field not in text:
        return f"{field}: {text}"
    return text
