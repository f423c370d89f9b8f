"""Issuers' signing keys: found through ``/.well-known/openid-configuration``, fetched from the
JWKS it names (through the outbound policy, without credentials), and kept as long as the
answer's ``Cache-Control: max-age`` says (five minutes without one, a day at most). A token signed
with a key id the cache does not know makes one fetch, at most one per issuer per second."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import anyio
import jwt

from qarion_pypi.upstream.http import AuthedClient, UpstreamError

_MAX_DOCUMENT = 256 * 1024
_DEFAULT_AGE = 300.0
_MAX_AGE = 86400.0
_MIN_REFETCH = 1.0
_MAX_AGE_RE = re.compile(r"max-age=(\d+)")


class KeysUnavailable(Exception):
    """The issuer's keys could not be had, or hold no key of that id: the token is refused."""


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK]
    fetched: float
    fresh_for: float

    def fresh(self, now: float) -> bool:
        return now - self.fetched < self.fresh_for


class IssuerKeys:
    def __init__(self, client: AuthedClient) -> None:
        self._client = client
        self._sets: dict[str, _KeySet] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def key(self, issuer: str, kid: str) -> jwt.PyJWK:
        known = self._sets.get(issuer)
        if known is not None and known.fresh(time.monotonic()) and kid in known.keys:
            return known.keys[kid]
        async with self._locks.setdefault(issuer, anyio.Lock()):
            known = self._sets.get(issuer)
            now = time.monotonic()
            if known is None or not known.fresh(now) or kid not in known.keys:
                if known is not None and now - known.fetched < _MIN_REFETCH:  # a burst of unknown ids
                    await anyio.sleep(_MIN_REFETCH - (now - known.fetched))
                known = await self._fetch(issuer)
                self._sets[issuer] = known
        if kid not in known.keys:
            raise KeysUnavailable(f"the issuer publishes no key with id {kid!r}")
        return known.keys[kid]

    async def _fetch(self, issuer: str) -> _KeySet:
        discovery, _ = await self._document(f"{issuer}/.well-known/openid-configuration")
        if discovery.get("issuer") != issuer:
            raise KeysUnavailable("the issuer's discovery document names another issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise KeysUnavailable("the issuer's discovery document has no usable jwks_uri")
        document, cache_control = await self._document(jwks_uri)
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document.get("keys"), list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str) and entry.get("use", "sig") == "sig":
                try:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
                except (jwt.PyJWKError, jwt.InvalidKeyError):
                    continue  # a key type this server does not use
        match = _MAX_AGE_RE.search(cache_control)
        fresh_for = min(float(match.group(1)), _MAX_AGE) if match else _DEFAULT_AGE
        return _KeySet(keys, time.monotonic(), fresh_for)

    async def _document(self, url: str) -> tuple[dict[str, Any], str]:
        try:
            reply = await self._client.fetch(url, max_bytes=_MAX_DOCUMENT)
        except UpstreamError as exc:
            raise KeysUnavailable(f"the issuer's keys could not be fetched: {exc}") from None
        if reply.status != 200:
            raise KeysUnavailable(f"the issuer answered {reply.status} for {url}")
        try:
            document = json.loads(reply.body)
        except ValueError:
            raise KeysUnavailable(f"the issuer's {url} is not JSON") from None
        if not isinstance(document, dict):
            raise KeysUnavailable(f"the issuer's {url} is not a JSON object")
        return document, reply.headers.get("cache-control", "")
