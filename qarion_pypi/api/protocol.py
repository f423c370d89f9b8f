"""uvicorn's HTTP protocol with a deadline for each request's headers.

uvicorn waits for headers as long as a client keeps the connection open, so a client that sends
them a byte at a time (slowloris) holds a connection forever. Here the headers of each request
must be complete within ``header_timeout`` seconds of its first byte (or of the connection).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout = 30.0
    _header_deadline: asyncio.TimerHandle | None = None

    @classmethod
    def configured(cls, header_timeout: float) -> type[GuardedHttpToolsProtocol]:
        return type(cls.__name__, (cls,), {"header_timeout": header_timeout})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.warning("closed a connection whose request headers did not arrive in time")
            self.transport.close()
