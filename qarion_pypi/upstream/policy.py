"""The one outbound policy: no loopback, private, link-local or non-http(s) targets.

Checked for every connection the server opens, redirects included. A name is resolved once, every
address it resolves to is checked, and the connection goes to a checked address (TLS still
verifies the name), so a name that re-resolves between the check and the connection (DNS
rebinding) reaches nothing new. IPv6 forms that carry an IPv4 address (mapped, compatible,
translated, NAT64, 6to4, Teredo) are judged by that address. The configured upstream index's own
host is always allowed; ``[outbound] allow_private`` lifts the address rule for tests and
internal mirrors.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local use, never public
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")


class OutboundRefused(Exception):
    pass


def is_public(address: Address) -> bool:
    """May the server connect to ``address``? Only public unicast addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _SITE_LOCAL or address in _NAT64_LOCAL:
            return False
        embedded = list(_embedded_ipv4(address))
        if embedded:
            return all(is_public(inner) for inner in embedded)
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> Iterable[ipaddress.IPv4Address]:
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    elif address in _NAT64 or address in _TRANSLATED or (address in _COMPATIBLE and int(address) > 1):
        yield low32
    elif address.sixtofour is not None:
        yield address.sixtofour
    elif address.teredo is not None:
        yield from address.teredo


class OutboundPolicy:
    def __init__(self, *, allow_private: bool, trusted_hosts: frozenset[str] = frozenset()) -> None:
        self.allow_private = allow_private
        self.trusted_hosts = frozenset(h.lower() for h in trusted_hosts)

    @classmethod
    def for_upstream(cls, *configured_urls: str, allow_private: bool) -> OutboundPolicy:
        """Hosts the operator configured (the upstream index, OIDC issuers) may be private."""
        hosts = {urlsplit(url).hostname for url in configured_urls if url}
        return cls(allow_private=allow_private, trusted_hosts=frozenset(host for host in hosts if host))

    def check_url(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise OutboundRefused(f"only http and https URLs may be fetched, not {url.scheme!r}")
        if not url.host:
            raise OutboundRefused("the URL has no host")

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``, every one of them allowed."""
        host = host.lower()
        try:
            literal: Address | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise OutboundRefused(f"cannot resolve {host!r}: {exc.strerror}") from None
            found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not found:
            raise OutboundRefused(f"{host!r} resolves to no address")
        if not (self.allow_private or host in self.trusted_hosts) and not all(is_public(a) for a in found):
            raise OutboundRefused(f"{host!r} resolves to a non-public address, which the outbound policy refuses")
        return [str(address) for address in dict.fromkeys(found)]

    async def check(self, url: httpx.URL) -> None:
        """The whole check for a URL, as a connection to it would meet it."""
        self.check_url(url)
        await self.addresses(url.host, url.port or (443 if url.scheme == "https" else 80))


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """Connections only to addresses the policy checked: the name is resolved here, once."""

    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are not an outbound target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PolicyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with every request's URL checked and every connection made through
    ``PolicyBackend``."""

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__(retries=1, trust_env=False)
        self._policy = policy
        # httpx builds its connection pool without a way to pass a network backend; the pool
        # itself takes one, so the pool is made again with it (same TLS context as httpx's).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._pool._ssl_context,
            retries=1,
            network_backend=PolicyBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        return await super().handle_async_request(request)
