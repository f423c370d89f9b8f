"""Secrets at rest (proxies' upstream passwords), sealed with a key from configuration.

Fernet (AES-128-CBC with HMAC-SHA256) under a key derived with HKDF from ``[auth] secret_key``,
or from ``<data_dir>/secret.key`` (random, created with mode 0600 on the first start) when none
is configured. Sealed values carry a version prefix; a value without it is from before sealing
and is sealed when the server starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX = "sealed:v1:"
KEY_FILE = "secret.key"


class SealBroken(Exception):
    """A sealed value that this key cannot open: the secret key changed since it was sealed."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class Sealer:
    """Seals secrets at rest, and signs values handed to browsers (each with its own derived key)."""

    def __init__(self, secret: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"qarion-pypi secrets at rest")))
        self._signing = _derive(secret, b"qarion-pypi signed values")

    def sign(self, value: str) -> str:
        """``value`` with an HMAC-SHA256 tag; ``value`` must not contain a dot."""
        tag = hmac.new(self._signing, value.encode("utf-8"), hashlib.sha256).digest()
        return f"{value}.{base64.urlsafe_b64encode(tag).decode('ascii').rstrip('=')}"

    def unsign(self, signed: str) -> str | None:
        """The value of a ``sign`` result, or None when the tag does not match."""
        value, _, _tag = signed.rpartition(".")
        return value if value and hmac.compare_digest(self.sign(value), signed) else None

    def seal(self, value: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def unseal(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # stored before sealing; sealed at the next start
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise SealBroken("sealed with another secret key") from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def secret_from(configured: str, data_dir: Path) -> bytes:
    """The configured secret, else this data dir's key file, created on first use."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()
