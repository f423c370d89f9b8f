"""The server's one outbound HTTP client: every request passes the outbound policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from qarion_pypi import __version__
from qarion_pypi.upstream.policy import OutboundPolicy, PolicyTransport

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Outbound:
    def __init__(self, policy: OutboundPolicy, netrc: str = "") -> None:
        self._netrc = httpx.NetRCAuth(netrc) if netrc else None
        self._client = httpx.AsyncClient(
            transport=PolicyTransport(policy),
            timeout=TIMEOUT,
            headers={"User-Agent": f"qarion-pypi/{__version__}"},
            trust_env=False,
        )

    def with_auth(self, auth: tuple[str, str] | None) -> AuthedClient:
        """Explicit credentials, else the netrc file's for the request's host, else none."""
        return AuthedClient(self._client, auth or self._netrc)

    async def aclose(self) -> None:
        await self._client.aclose()


class AuthedClient:
    """The shared client with one upstream's credentials (or none) on every request."""

    def __init__(self, client: httpx.AsyncClient, auth: tuple[str, str] | httpx.Auth | None) -> None:
        self._client = client
        self._auth = auth

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        if self._auth:
            kwargs["auth"] = self._auth
        return await self._client.get(url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        if self._auth:
            kwargs["auth"] = self._auth
        return await self._client.post(url, **kwargs)

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        if self._auth:
            kwargs["auth"] = self._auth
        async with self._client.stream(method, url, **kwargs) as response:
            yield response
