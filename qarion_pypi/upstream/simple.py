"""Reading another index's Simple API (PEP 691 JSON preferred, PEP 503 HTML understood)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

from qarion_pypi.simple.model import FileEntry, ProjectPage
from qarion_pypi.simple.negotiate import HTML_V1, JSON_V1
from qarion_pypi.upstream.http import AuthedClient, UpstreamError

ACCEPT = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"
MAX_PAGE_BYTES = 32 * 1024 * 1024


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
    page, unsupported = parse(reply.body, reply.url, name)
    return Fetched(page, reply.headers.get("etag"), unsupported=tuple(unsupported))


def _from_json(body: bytes, base: str, name: str) -> tuple[ProjectPage, list[str]]:
    try:
        document = json.loads(body)
        items = document.get("files", [])
        files = [_json_file(item, base) for item in items]
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise UpstreamError(f"upstream JSON page is malformed: {exc.__class__.__name__}") from None
    unsupported = [str(item.get("filename")) for item, entry in zip(items, files, strict=True) if entry is None]
    page = ProjectPage(
        name=document.get("name", name),
        normalized_name=name,
        files=[f for f in files if f],
        versions=[str(v) for v in document.get("versions", [])],
    )
    return page, unsupported


def _json_file(item: dict[str, Any], base: str) -> FileEntry | None:
    sha256 = (item.get("hashes") or {}).get("sha256")
    if not sha256 or not _is_distribution(item["filename"]):
        return None  # without a sha256 nothing could be verified, so it is not offered
    metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
    upload_time = item.get("upload-time")
    return FileEntry(
        filename=item["filename"],
        url=urljoin(base, item["url"]),
        sha256=sha256,
        size=int(item.get("size") or 0),
        upload_time=datetime.fromisoformat(upload_time.replace("Z", "+00:00")) if upload_time else None,
        requires_python=item.get("requires-python"),
        yanked=item.get("yanked", False),
        core_metadata=metadata.get("sha256", True) if isinstance(metadata, dict) else bool(metadata),
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
        if algorithm != "sha256" or not digest or not _is_distribution(filename):
            unsupported.append(filename)
            continue
        metadata = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        yanked = attrs.get("data-yanked")
        files.append(
            FileEntry(
                filename=filename,
                url=url,
                sha256=digest,
                size=0,
                requires_python=attrs.get("data-requires-python"),
                yanked=False if yanked is None and "data-yanked" not in attrs else (yanked or ""),
                core_metadata=_html_metadata(
                    metadata, "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
                ),
            )
        )
    return ProjectPage(name=name, normalized_name=name, files=files, versions=[]), unsupported


def _html_metadata(value: str | None, present: bool) -> str | bool:
    if not present:
        return False
    algorithm, _, digest = (value or "").partition("=")
    return digest if algorithm == "sha256" and digest else True


def _is_distribution(filename: str) -> bool:
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
