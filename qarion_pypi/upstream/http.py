"""The server's one outbound HTTP client: every request passes the outbound policy, every body
is read up to a bound, and every failure is an ``UpstreamError`` (httpx stays in this folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from qarion_pypi import __version__
from qarion_pypi.upstream.policy import OutboundPolicy, OutboundRefused, PolicyTransport
from qarion_pypi.upstream.urls import origin

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
RETRIES = 3
_TRANSIENT = {502, 503, 504}


class UpstreamError(Exception):
    """The upstream answered something we cannot use (or did not answer)."""


@dataclass(frozen=True)
class Reply:
    """A whole, bounded answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  # after redirects


class Outbound:
    def __init__(self, policy: OutboundPolicy, netrc: str = "") -> None:
        self._netrc = httpx.NetRCAuth(netrc) if netrc else None
        self._client = httpx.AsyncClient(
            transport=PolicyTransport(policy),
            timeout=TIMEOUT,
            headers={"User-Agent": f"qarion-pypi/{__version__}"},
            trust_env=False,
        )

    def with_auth(self, auth: tuple[str, str] | None, *, origin_of: str = "") -> AuthedClient:
        """Explicit credentials (sent only to the origin of ``origin_of``: an upstream's page
        may list files on any host), else the netrc file's for each request's host, else none."""
        if auth is None:
            return AuthedClient(self._client, self._netrc)
        return AuthedClient(self._client, auth, only_to=origin(origin_of) if origin_of else None)

    def anonymous(self) -> AuthedClient:
        """No credentials at all, not even the netrc file's (OIDC discovery, key sets)."""
        return AuthedClient(self._client, None)

    async def aclose(self) -> None:
        await self._client.aclose()


class AuthedClient:
    """The shared client with one upstream's credentials (or none) on every request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        auth: tuple[str, str] | httpx.Auth | None,
        only_to: tuple[str, str, int | None] | None = None,
    ) -> None:
        self._client = client
        self._auth = auth
        self._only_to = only_to

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        retry: bool = True,
    ) -> Reply:
        """GET (or POST ``json``) with redirects followed, reading at most ``max_bytes`` of the
        body. With ``retry``, connection errors, timeouts and 502/503/504 are tried up to
        ``RETRIES`` times."""
        for attempt in range(1, RETRIES + 1):
            last = attempt == RETRIES or not retry
            try:
                reply = await self._once(url, max_bytes=max_bytes, headers=headers, json=json)
            except _Transient as exc:
                if last:
                    raise UpstreamError(f"the upstream could not be reached ({exc})") from None
            else:
                if reply.status not in _TRANSIENT or last:
                    return reply
            await anyio.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    async def _once(self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None, json: Any) -> Reply:
        method = "GET" if json is None else "POST"
        async with self.stream(method, url, headers=dict(headers or {}), json=json) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise UpstreamError(f"the upstream's answer is larger than {max_bytes} bytes")
            body = bytearray()
            try:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise UpstreamError(f"the upstream's answer is larger than {max_bytes} bytes")
            except httpx.HTTPError as exc:
                raise _Transient(exc.__class__.__name__) from None
            return Reply(response.status_code, dict(response.headers), bytes(body), str(response.url))

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """A streamed request for this folder's own readers; errors before the answer are
        UpstreamError (the outbound policy's refusals included)."""
        if self._auth and (self._only_to is None or _origin_or_none(url) == self._only_to):
            kwargs["auth"] = self._auth
        kwargs.setdefault("follow_redirects", True)
        try:
            async with self._client.stream(method, url, **kwargs) as response:
                yield response
        except OutboundRefused as exc:
            raise UpstreamError(f"the outbound policy refused the request: {exc}") from None
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise _Transient(exc.__class__.__name__) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise UpstreamError(f"the upstream request failed ({exc.__class__.__name__})") from None


def _origin_or_none(url: str) -> tuple[str, str, int | None] | None:
    try:
        return origin(url)
    except httpx.InvalidURL:
        return None


class _Transient(UpstreamError):
    """A connection error or timeout: worth another try."""
