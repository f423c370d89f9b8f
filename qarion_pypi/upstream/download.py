"""The one bounded download of an upstream file: staged while it arrives, checked when it ends.

Proxies (which stream the bytes on to a client at the same time), imports and metadata reads all
fetch files this way. The size cap holds whatever the upstream claims, and the last chunk is
held back until the sha256 is known: a caller that streams the chunks on never passes along a
complete file that does not match its published hash. Every failure is an ``UpstreamError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx

from qarion_pypi.storage import Digests, IncomingBlob
from qarion_pypi.upstream.http import AuthedClient, UpstreamError

CHUNK = 1024 * 1024


class HashMismatch(UpstreamError):
    """The bytes arrived whole but are not the ones the upstream's page promised."""


class UpstreamFile:
    """An upstream file being fetched into ``blob``. Open it with ``open``; then either iterate
    ``chunks()`` or call ``fetch()``, and ``aclose()`` in every case."""

    def __init__(self, stack: AsyncExitStack, response: httpx.Response, blob: IncomingBlob, *, max_bytes: int,
                 sha256: str, name: str) -> None:  # fmt: skip
        self._stack = stack
        self._response = response
        self.blob = blob
        self._max_bytes = max_bytes
        self._sha256 = sha256
        self._name = name

    @classmethod
    async def open(
        cls, client: AuthedClient, url: str, blob: IncomingBlob, *, max_bytes: int, sha256: str, name: str = ""
    ) -> UpstreamFile:
        """Send the request; a failure before the first byte raises here, so a caller can still
        answer with a clean error."""
        name = name or url.rsplit("/", 1)[-1]
        stack = AsyncExitStack()
        try:
            response = await stack.enter_async_context(client.stream("GET", url))
        except UpstreamError as exc:
            await stack.aclose()
            raise UpstreamError(f"the upstream could not be reached for {name} ({exc})") from None
        if response.status_code != 200:
            await stack.aclose()
            raise UpstreamError(f"the upstream answered {response.status_code} for {name}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            await stack.aclose()
            raise UpstreamError(f"{name} is larger than this server accepts")
        return cls(stack, response, blob, max_bytes=max_bytes, sha256=sha256, name=name)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes as they arrive, each staged before it is yielded; the last one only after
        the whole file matched its sha256 (otherwise UpstreamError)."""
        held: bytes | None = None
        try:
            async for chunk in self._response.aiter_bytes(CHUNK):
                if self.blob.size + len(chunk) > self._max_bytes:
                    raise UpstreamError(f"{self._name} is larger than this server accepts")
                await self.blob.write(chunk)
                if held is not None:
                    yield held
                held = chunk
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the download of {self._name} broke off ({exc.__class__.__name__})") from None
        digests = await self.blob.finish()
        if digests.sha256 != self._sha256:
            raise HashMismatch(f"{self._name} does not match its published sha256")
        if held is not None:
            yield held

    async def fetch(self) -> Digests:
        """Fetch the whole file into the blob; its digests once it matched its sha256."""
        async for _ in self.chunks():
            pass
        assert self.blob.digests is not None
        return self.blob.digests

    async def aclose(self) -> None:
        await self._stack.aclose()


async def download(
    client: AuthedClient, url: str, blob: IncomingBlob, *, max_bytes: int, sha256: str, name: str = ""
) -> Digests:
    """Fetch ``url`` into ``blob`` (bounded, checked against ``sha256``); UpstreamError otherwise."""
    upstream = await UpstreamFile.open(client, url, blob, max_bytes=max_bytes, sha256=sha256, name=name)
    try:
        return await upstream.fetch()
    finally:
        await upstream.aclose()
