"""The one outbound policy: which targets the server may fetch from."""

from __future__ import annotations

import httpx
import pytest

from qarion_pypi.upstream.policy import OutboundPolicy, OutboundRefused

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
