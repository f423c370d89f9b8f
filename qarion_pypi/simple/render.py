"""Rendering the one structure: PEP 503 HTML and PEP 691 JSON (API version 1.1, PEP 700)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from qarion_pypi.simple.model import API_VERSION, FileEntry, ProjectList, ProjectPage

_HEAD = (
    "<!DOCTYPE html>\n<html>\n<head>\n"
    f'<meta name="pypi:repository-version" content="{API_VERSION}">\n'
    "<title>{title}</title>\n</head>\n<body>\n"
)
_TAIL = "</body>\n</html>\n"


def _upload_time(value: datetime) -> str:
    # PEP 700: ISO 8601 in UTC, ``Z`` suffix.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def project_list_html(page: ProjectList) -> bytes:
    parts = [_HEAD.format(title="Simple index")]
    for project in page.projects:
        parts.append(f'<a href="{escape(project.normalized_name)}/">{escape(project.name)}</a><br>\n')
    parts.append(_TAIL)
    return "".join(parts).encode("utf-8")


def project_list_json(page: ProjectList) -> bytes:
    document = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p.name} for p in page.projects]}
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _file_anchor(entry: FileEntry, base: str) -> str:
    attributes = [f'href="{escape(base + entry.url)}#sha256={escape(entry.sha256)}"']
    if entry.requires_python:
        attributes.append(f'data-requires-python="{escape(entry.requires_python)}"')
    if entry.yanked is not False:
        reason = entry.yanked if isinstance(entry.yanked, str) else ""
        attributes.append(f'data-yanked="{escape(reason)}"')
    if entry.core_metadata:
        value = f"sha256={escape(entry.core_metadata)}" if isinstance(entry.core_metadata, str) else "true"
        # PEP 714 renamed the attribute; older pip still reads the PEP 658 name.
        attributes.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
    if entry.provenance:
        attributes.append(f'data-provenance="{escape(base + entry.provenance)}"')
    return f"<a {' '.join(attributes)}>{escape(entry.filename)}</a><br>\n"


def _project_meta(page: ProjectPage) -> str:
    """PEP 708's and PEP 792's ``<meta>`` tags."""
    tags = [f'<meta name="pypi:tracks" content="{escape(url)}">\n' for url in page.tracks]
    tags += [f'<meta name="pypi:alternate-locations" content="{escape(url)}">\n' for url in page.alternate_locations]
    tags.append(f'<meta name="pypi:project-status" content="{escape(page.status)}">\n')
    if page.status_reason:
        tags.append(f'<meta name="pypi:project-status-reason" content="{escape(page.status_reason)}">\n')
    return "".join(tags)


def project_page_html(page: ProjectPage, base: str = "") -> bytes:
    """``base`` is prefixed to every file's URL: the serving repository's client root."""
    head = _HEAD.format(title=f"Links for {escape(page.name)}").replace("<title>", _project_meta(page) + "<title>", 1)
    parts = [head, f"<h1>Links for {escape(page.name)}</h1>\n"]
    parts.extend(_file_anchor(entry, base) for entry in page.files)
    parts.append(_TAIL)
    return "".join(parts).encode("utf-8")


def _file_json(entry: FileEntry, base: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "filename": entry.filename,
        "url": base + entry.url,
        "hashes": {"sha256": entry.sha256},
        "requires-python": entry.requires_python,
        "yanked": entry.yanked,
        "size": entry.size,
    }
    if entry.upload_time is not None:
        document["upload-time"] = _upload_time(entry.upload_time)
    metadata: dict[str, str] | bool = (
        {"sha256": entry.core_metadata} if isinstance(entry.core_metadata, str) else entry.core_metadata
    )
    document["core-metadata"] = metadata
    document["dist-info-metadata"] = metadata
    document["provenance"] = base + entry.provenance if entry.provenance else None  # PEP 740
    if entry.resolver is not None:  # extra keys: standard clients ignore them
        document["requires-dist"] = list(entry.resolver.requires_dist)
        document["requires-external"] = list(entry.resolver.requires_external)
        document["provides-extra"] = list(entry.resolver.provides_extra)
    return document


def project_page_json(page: ProjectPage, base: str = "") -> bytes:
    document: dict[str, Any] = {
        "meta": {"api-version": API_VERSION},
        "name": page.normalized_name,
        "versions": page.versions,
        "files": [_file_json(entry, base) for entry in page.files],
        "project-status": {"status": page.status, **({"reason": page.status_reason} if page.status_reason else {})},
    }
    if page.tracks:
        document["tracks"] = page.tracks
    if page.alternate_locations:
        document["alternate-locations"] = page.alternate_locations
    return json.dumps(document, separators=(",", ":")).encode("utf-8")
