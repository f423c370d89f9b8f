"""Reading another index's Simple API (PEP 691 JSON preferred, PEP 503 HTML understood)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin

import anyio.to_thread
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

from qarion_pypi.simple.model import PROJECT_STATUSES, FileEntry, ProjectPage
from qarion_pypi.simple.negotiate import HTML_V1, JSON_V1
from qarion_pypi.upstream.http import AuthedClient, UpstreamError

ACCEPT = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"
MAX_PAGE_BYTES = 32 * 1024 * 1024
MAX_STATUS_REASON = 1000  # characters of an upstream's project status reason kept
PARSE_ON_LOOP_BYTES = 32 * 1024


@dataclass(frozen=True)
class Fetched:
    page: ProjectPage | None  # None: the upstream has no such project
    etag: str | None
    not_modified: bool = False
    # files listed upstream that are not wheels or sdists, or come without a sha256
    unsupported: tuple[str, ...] = ()


async def fetch_project(client: AuthedClient, index_url: str, name: str, etag: str | None = None) -> Fetched:
    url = urljoin(index_url.rstrip("/") + "/", f"{name}/")
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    reply = await client.fetch(url, headers=headers, max_bytes=MAX_PAGE_BYTES)
    if reply.status == 304:
        return Fetched(None, etag, not_modified=True)
    if reply.status == 404:
        return Fetched(None, None)
    if reply.status != 200:
        raise UpstreamError(f"upstream answered {reply.status}")
    content_type = reply.headers.get("content-type", "").split(";")[0].strip()
    parse = _from_json if content_type == JSON_V1 else _from_html
    if len(reply.body) <= PARSE_ON_LOOP_BYTES:  # most pages: quicker parsed than handed to a thread
        page, unsupported = parse(reply.body, reply.url, name)
    else:  # a page may be tens of megabytes: parsed in a worker thread, off the event loop
        page, unsupported = await anyio.to_thread.run_sync(parse, reply.body, reply.url, name)
    firsts = {entry.filename: entry for entry in reversed(page.files)}  # listed twice: the first stands
    if len(firsts) != len(page.files):
        page = replace(page, files=[entry for entry in page.files if firsts[entry.filename] is entry])
    return Fetched(page, reply.headers.get("etag"), unsupported=tuple(unsupported))


def _from_json(body: bytes, base: str, name: str) -> tuple[ProjectPage, list[str]]:
    try:
        document = json.loads(body)
    except ValueError:
        raise UpstreamError("upstream JSON page is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("files", []), list):
        raise UpstreamError("upstream JSON page is malformed")
    files, unsupported = [], []
    for item in document.get("files", []):
        entry = _json_file(item, base) if isinstance(item, dict) else None
        if entry is None:
            unsupported.append(str(item.get("filename")) if isinstance(item, dict) else "?")
        else:
            files.append(entry)
    versions = document.get("versions", [])
    marker = document.get("project-status")
    marker = marker if isinstance(marker, dict) else {}
    page = ProjectPage(
        name=_text(document.get("name")) or name,
        normalized_name=name,
        files=files,
        versions=[v for v in versions if isinstance(v, str)] if isinstance(versions, list) else [],
        **_status(marker.get("status"), marker.get("reason")),
    )
    return page, unsupported


def _status(status: object, reason: object) -> dict[str, Any]:
    """A PEP 792 marker from upstream: a known status (an unknown one is read as active, as the
    PEP asks of clients) and a bounded reason."""
    known = status if isinstance(status, str) and status in PROJECT_STATUSES else "active"
    text = _text(reason)
    return {"status": known, "status_reason": text[:MAX_STATUS_REASON] if text else None}


def _json_file(item: dict[str, Any], base: str) -> FileEntry | None:
    """An upstream's file entry, every value checked: None when it cannot be offered (no valid
    sha256 means nothing could be verified)."""
    hashes = item.get("hashes")
    sha256 = _hash(hashes.get("sha256")) if isinstance(hashes, dict) else None
    filename, url = item.get("filename"), item.get("url")
    if sha256 is None or not isinstance(filename, str) or not isinstance(url, str) or not _is_distribution(filename):
        return None
    metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
    if isinstance(metadata, dict):
        metadata = _hash(metadata.get("sha256")) or False
    elif not isinstance(metadata, bool):
        metadata = False
    size = item.get("size")
    yanked = item.get("yanked", False)
    return FileEntry(
        filename=filename,
        url=urljoin(base, url),
        sha256=sha256,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
        upload_time=_time(item.get("upload-time")),
        requires_python=_specifier(item.get("requires-python")),
        yanked=yanked if isinstance(yanked, bool) else (_text(yanked) or ""),
        core_metadata=metadata,
    )


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _hash(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and _HEX64.fullmatch(value) else None


def _text(value: object) -> str | None:
    """A short single-line string, or None."""
    if isinstance(value, str) and len(value) <= 1000 and not _CONTROL.search(value):
        return value
    return None


def _specifier(value: object) -> str | None:
    """A Requires-Python as written, when it is one; anything else is not passed on."""
    text = _text(value)
    if text is None:
        return None
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return None
    return text


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.meta: dict[str, str] = {}  # <meta name=... content=...>, the first of each name
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            found = dict(attrs)
            if found.get("name") and found.get("content") is not None:
                self.meta.setdefault(str(found["name"]), str(found["content"]))
        if tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _from_html(body: bytes, base: str, name: str) -> tuple[ProjectPage, list[str]]:
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    files, unsupported = [], []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(base, href))
        algorithm, _, digest = fragment.partition("=")
        filename = label or url.rsplit("/", 1)[-1]
        sha256 = _hash(digest) if algorithm == "sha256" else None
        if sha256 is None or not _is_distribution(filename):
            unsupported.append(filename)
            continue
        metadata = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        yanked = attrs.get("data-yanked")
        files.append(
            FileEntry(
                filename=filename,
                url=url,
                sha256=sha256,
                size=0,
                requires_python=_specifier(attrs.get("data-requires-python")),
                yanked=False if yanked is None and "data-yanked" not in attrs else (_text(yanked) or ""),
                core_metadata=_html_metadata(
                    metadata, "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
                ),
            )
        )
    status = _status(parser.meta.get("pypi:project-status"), parser.meta.get("pypi:project-status-reason"))
    return ProjectPage(name=name, normalized_name=name, files=files, versions=[], **status), unsupported


def _html_metadata(value: str | None, present: bool) -> str | bool:
    if not present:
        return False
    if value in (None, "", "true"):
        return True
    algorithm, _, digest = value.partition("=")
    return (_hash(digest) or False) if algorithm == "sha256" else False


def _is_distribution(filename: str) -> bool:
    if _text(filename) is None or len(filename) > 255 or "/" in filename or "\\" in filename or not filename.isascii():
        return False
    try:
        if filename.endswith(".whl"):
            parse_wheel_filename(filename)
            return True
        if filename.endswith((".tar.gz", ".zip")):
            parse_sdist_filename(filename)
            return True
    except (InvalidWheelFilename, InvalidSdistFilename):
        return False
    return False
