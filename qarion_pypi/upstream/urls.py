"""Checks for index URLs that come from configuration or from a client."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host: what every index URL setting must be."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unbalanced IPv6 bracket, say
        return False
    return parts.scheme in ("http", "https") and bool(host)
