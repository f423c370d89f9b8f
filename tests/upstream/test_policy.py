"""The one outbound policy: which targets the server may fetch from."""

from __future__ import annotations

import ipaddress

import httpcore
import httpx
import pytest

from qarion_pypi.upstream.policy import OutboundPolicy, OutboundRefused, PolicyBackend, is_public

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/simple/", "http://localhost:8080/", "http://10.1.2.3/", "http://169.254.169.254/latest/",
     "http://[::1]/", "http://192.168.0.10/", "file:///etc/passwd", "ftp://example.org/", "http://0.0.0.0/"],
)  # fmt: skip
async def test_policy_refuses_internal_targets(url: str) -> None:
    with pytest.raises(OutboundRefused):
        await OutboundPolicy(allow_private=False).check(httpx.URL(url))


async def test_policy_allows_the_upstream_host_and_private_when_configured() -> None:
    trusted = OutboundPolicy.for_upstream("http://127.0.0.1:3141/simple/", allow_private=False)
    await trusted.check(httpx.URL("http://127.0.0.1:3141/simple/x/"))
    with pytest.raises(OutboundRefused):
        await trusted.check(httpx.URL("http://10.0.0.1/"))
    await OutboundPolicy(allow_private=True).check(httpx.URL("http://10.0.0.1/"))
    with pytest.raises(OutboundRefused):  # the scheme rule holds even then
        await OutboundPolicy(allow_private=True).check(httpx.URL("file:///etc/passwd"))


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible
        "[::7f00:1]",  # the same, written in hex
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:0:7f00:1]",  # IPv4-translated (SIIT)
        "[64:ff9b::7f00:1]",  # NAT64, well-known prefix
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[64:ff9b:1::8.8.8.8]",  # NAT64, local-use prefix: never public
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
        "[fec0::1]",  # site-local
        "[fe80::1]",  # link-local
        "[fc00::1]",  # unique local
        "[::]",
    ],
)
async def test_ipv6_forms_of_internal_addresses_are_refused(host: str) -> None:
    with pytest.raises(OutboundRefused):
        await OutboundPolicy(allow_private=False).check(httpx.URL(f"http://{host}/simple/"))


@pytest.mark.parametrize("host", ["2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_in_those_forms_pass(host: str) -> None:
    assert is_public(ipaddress.ip_address(host))


class Recording(httpcore.AsyncNetworkBackend):
    """The network as the policy backend meets it: where connections were asked to go."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: object, **kwargs: object) -> httpcore.AsyncNetworkStream:
        self.asked.append(host)
        raise httpcore.ConnectError("recorded, not connected")


class Resolving(OutboundPolicy):
    """A policy whose name resolution is scripted: a different answer each time it is asked."""

    def __init__(self, answers: list[list[str]]) -> None:
        super().__init__(allow_private=False)
        self._answers = answers

    async def addresses(self, host: str, port: int) -> list[str]:
        found = self._answers.pop(0)
        if not all(is_public(ipaddress.ip_address(a)) for a in found):
            raise OutboundRefused(f"{host!r} resolves to a non-public address")
        return found


async def test_connections_go_to_the_address_that_was_checked() -> None:
    """DNS rebinding: the name is resolved once, and the connection goes to that answer."""
    network = Recording()
    backend = PolicyBackend(Resolving([["93.184.216.34"], ["127.0.0.1"]]), network)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("rebinding.example", 443)
    assert network.asked == ["93.184.216.34"]  # never the name, so never a second lookup
    with pytest.raises(OutboundRefused):  # the next lookup answers loopback: refused before connecting
        await backend.connect_tcp("rebinding.example", 443)
    assert network.asked == ["93.184.216.34"]


async def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    with pytest.raises(OutboundRefused):
        await PolicyBackend(Resolving([["93.184.216.34", "10.0.0.1"]]), Recording()).connect_tcp("mixed.example", 80)
