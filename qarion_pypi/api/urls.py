"""Client URLs, built in one place for pages and management responses alike."""

from __future__ import annotations

from urllib.parse import quote

from qarion_pypi.api.http import API_PREFIX


def repository_root(prefix: str, space_slug: str, repository_slug: str, project_slug: str | None = None) -> str:
    project = f"/projects/{project_slug}" if project_slug else ""
    return f"{prefix}{API_PREFIX}/pypi/spaces/{space_slug}{project}/repositories/{repository_slug}"


def simple_index(prefix: str, space_slug: str, repository_slug: str, project_slug: str | None = None) -> str:
    return repository_root(prefix, space_slug, repository_slug, project_slug) + "/simple/"


def upload(prefix: str, space_slug: str, repository_slug: str, project_slug: str | None = None) -> str:
    return repository_root(prefix, space_slug, repository_slug, project_slug) + "/legacy/"


def download(prefix: str, file_id: str, filename: str) -> str:
    return f"{prefix}{API_PREFIX}/pypi/files/{file_id}/{quote(filename)}"


def remote_download(prefix: str, file_id: str, filename: str) -> str:
    """A file a proxy repository serves on behalf of its upstream."""
    return f"{prefix}{API_PREFIX}/pypi/remote/{file_id}/{quote(filename)}"
