"""What a release page shows beyond the management API's package document: the README and the
core metadata (Requires-Python, dependencies, classifiers, project links), read from the stored
METADATA of one of the release's files, and each file's latest scan findings.

Everything here comes from the uploader: READMEs are rendered by readme-renderer, whose output is
sanitized (nh3); every other value is left as text for the templates to escape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import anyio.to_thread
import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from markupsafe import Markup
from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from qarion_pypi.context import Context
from qarion_pypi.errors import NotFound
from qarion_pypi.repositories import core_metadata
from qarion_pypi.repositories.records import FileRecord
from qarion_pypi.scanning import scans

MAX_FINDINGS_SHOWN = 50


@dataclass
class Dependency:
    text: str
    name: str  # normalized; linked when the repository holds it
    linked: bool = False


@dataclass
class ReleaseDetails:
    readme: Markup | None = None
    requires_python: str | None = None
    dependencies: list[Dependency] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    project_urls: list[tuple[str, str]] = field(default_factory=list)
    scans: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> latest scan


def _render(description: str, content_type: str | None) -> str | None:
    message = Message()
    message["content-type"] = content_type or "text/x-rst"
    kind = message.get_content_type()
    if kind == "text/markdown":
        variant = message.get_param("variant")
        rendered = readme_renderer.markdown.render(description, variant=variant if isinstance(variant, str) else "GFM")
        # None when the variant is unknown (or no Markdown engine is installed): shown as text.
        return rendered or readme_renderer.txt.render(description)
    if kind == "text/x-rst":
        # An RST README that does not render (or uses raw HTML) is shown as plain text, as the
        # public index does.
        return readme_renderer.rst.render(description) or readme_renderer.txt.render(description)
    return readme_renderer.txt.render(description)


def _links(urls: object) -> list[tuple[str, str]]:
    if not isinstance(urls, dict):
        return []
    # Only web links: a javascript: or data: URL from metadata must never become an href.
    return [(label, url) for label, url in urls.items() if url.lower().startswith(("https://", "http://"))]


def _source_file(files: list[FileRecord]) -> FileRecord | None:
    """A wheel's METADATA is what installs; an sdist's PKG-INFO when there is no wheel."""
    ranked = sorted((f for f in files if f.metadata_sha256), key=lambda f: f.distribution_type != "wheel")
    return ranked[0] if ranked else None


async def details(ctx: Context, files: list[FileRecord]) -> ReleaseDetails:
    """The README, metadata and scans of one release's files (dependencies not yet linked)."""
    found = ReleaseDetails()
    for file in files:
        try:
            scan = await scans.latest(ctx, file)
        except NotFound:
            continue
        found.scans[file.id] = {**scan, "findings": list(scan["findings"] or [])[:MAX_FINDINGS_SHOWN]}
    source = _source_file(files)
    if source is None or source.metadata_sha256 is None:
        return found
    raw = await core_metadata.load(ctx.db, source.metadata_sha256)
    fields, _ = parse_email(raw)
    description = fields.get("description")
    if isinstance(description, str) and description.strip():
        rendered = await anyio.to_thread.run_sync(_render, description, fields.get("description_content_type"))
        found.readme = Markup(rendered) if rendered else None
    found.requires_python = fields.get("requires_python")
    found.classifiers = list(fields.get("classifiers") or [])
    found.project_urls = _links(fields.get("project_urls"))
    for text in fields.get("requires_dist") or []:
        try:
            name = str(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            name = ""
        found.dependencies.append(Dependency(text, name))
    return found
