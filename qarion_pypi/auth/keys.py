"""API keys and minted upload tokens: random, high-entropy, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "qpypi_"
# Tokens minted for a CI job's OIDC token (trusted publishing) look different, so that a glance
# (and the server) tells them from long-lived keys.
MINTED_PREFIX = "qoidc_"
_DISPLAY_PREFIX = 12


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def generate_minted_token() -> str:
    return MINTED_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:_DISPLAY_PREFIX]
