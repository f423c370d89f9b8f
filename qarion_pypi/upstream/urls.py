"""Checks for index URLs that come from configuration or from a client.

An index URL is an absolute http(s) URL whose host is a DNS name or a plain IP address. Hosts that
only some resolvers read as addresses (``0177.0.0.1``, ``0x7f.1``, ``2130706433``) are refused:
what the policy checks and what a connection reaches must be the same thing.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import httpx

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_NUMERIC_LOOKING = re.compile(r"[0-9a-fA-FxX.]+")


def index_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an index URL, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        httpx.URL(url)  # what the client will make of it
    except (ValueError, httpx.InvalidURL):
        return "is not a well-formed URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http(s) URL of a Simple API index"
    if not host:
        return "must name a host"
    if not _valid_host(host):
        return "must name a host by DNS name or plain IP address"
    return None


def _valid_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return isinstance(address, ipaddress.IPv6Address) or str(address) == host
    if _NUMERIC_LOOKING.fullmatch(host) and not any(c.isalpha() and c not in "xX" for c in host.split(".")[-1]):
        return False  # an address some resolvers would read in octal, hex or as one number
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(_LABEL.fullmatch(label) for label in ascii_host.rstrip(".").split("."))


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without user and password, the user, the password)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment)
    return urlunsplit(bare), _unquoted(parts.username), _unquoted(parts.password)


def _unquoted(value: str | None) -> str | None:
    return None if value is None else unquote(value)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host.lower(), parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
