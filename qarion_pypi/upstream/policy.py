"""The one outbound policy: no loopback, private, link-local or non-http(s) targets.

Checked for every request the server makes, redirects included (httpx sends each hop through the
transport). The configured upstream index's own host is always allowed; ``[outbound]
allow_private`` lifts the address rule for tests and internal mirrors. The check resolves the
name itself; a name that re-resolves differently between the check and the connection (DNS
rebinding) is not caught: run outbound traffic through an egress proxy where that matters.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import anyio
import httpx


class OutboundRefused(Exception):
    pass


class OutboundPolicy:
    def __init__(self, *, allow_private: bool, trusted_hosts: frozenset[str] = frozenset()) -> None:
        self.allow_private = allow_private
        self.trusted_hosts = frozenset(h.lower() for h in trusted_hosts)

    @classmethod
    def for_upstream(cls, upstream_index_url: str, *, allow_private: bool) -> OutboundPolicy:
        host = urlsplit(upstream_index_url).hostname if upstream_index_url else None
        return cls(allow_private=allow_private, trusted_hosts=frozenset({host} if host else ()))

    async def check(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise OutboundRefused(f"only http and https URLs may be fetched, not {url.scheme!r}")
        host = url.host.lower()
        if not host:
            raise OutboundRefused("the URL has no host")
        if host in self.trusted_hosts or self.allow_private:
            return
        try:
            infos = await anyio.getaddrinfo(
                host, url.port or (443 if url.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise OutboundRefused(f"cannot resolve {host!r}: {exc.strerror}") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                raise OutboundRefused(f"{host!r} resolves to a non-public address, which the outbound policy refuses")


class PolicyTransport(httpx.AsyncBaseTransport):
    """An httpx transport that refuses requests the policy does not allow."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpx.AsyncHTTPTransport(retries=1)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._policy.check(request.url)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
