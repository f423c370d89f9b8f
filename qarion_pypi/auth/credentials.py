"""Reading an API key out of an Authorization header (Bearer, or Basic ``__token__:KEY``)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

TOKEN_USERNAME = "__token__"


@dataclass(frozen=True)
class Credentials:
    key: str
    username: str | None  # None for Bearer


class MalformedCredentials(ValueError):
    pass


def parse_authorization(header: str | None) -> Credentials | None:
    """None when no credentials were sent; MalformedCredentials when they cannot be read."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "bearer" and value:
        return Credentials(key=value, username=None)
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedCredentials("Basic credentials are not valid base64 UTF-8") from None
        username, sep, password = decoded.partition(":")
        if not sep or not password:
            raise MalformedCredentials("Basic credentials need a username and a password")
        return Credentials(key=password, username=username)
    raise MalformedCredentials(f"unsupported authorization scheme {scheme!r}")
