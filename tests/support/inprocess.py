"""The app in this process, reached through ``httpx.ASGITransport``: no socket, no subprocess.

The app (and its lifespan: database, job queue) runs on an event loop in a portal thread;
synchronous httpx clients hand each request to that loop. Tests that need what only a real server
has (real clients, kill -9, another process) use ``live_server`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx

from qarion_pypi.app import create_app
from qarion_pypi.config import load_settings
from qarion_pypi.storage import BlobStore
from tests.support.backends import settings_for
from tests.support.harness import TestServer, new_admin_key, server_environment

APP_HOST = "testserver"


class PortalTransport(httpx.BaseTransport):
    """A synchronous transport that runs each request for the app on the app's own event loop;
    requests for other hosts (where the app redirects to, such as an object store's presigned
    URL) go over the network."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: Any) -> None:
        self._portal = portal
        self._inner = httpx.ASGITransport(app=app)
        self._network = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != APP_HOST:
            return self._network.handle_request(request)
        return self._portal.call(self._handle, request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)


@dataclass
class InProcessServer(TestServer):
    _transport: PortalTransport | None = field(default=None, repr=False)

    def transport(self) -> httpx.BaseTransport | None:
        return self._transport


@contextmanager
def inprocess_server(
    data_dir: Path, admin_key: str | None = None, blobs: BlobStore | None = None, **settings: Any
) -> Iterator[InProcessServer]:
    """The app with its own data dir (and, if given, blob store), started and stopped like
    ``serve`` does (lifespan)."""
    admin_key = admin_key or new_admin_key()
    environ = server_environment(admin_key, **{**settings_for(data_dir), **settings})
    app = create_app(load_settings(overrides={"data_dir": data_dir}, environ=environ), blobs)
    with (
        anyio.from_thread.start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        server = InProcessServer(url=f"http://{APP_HOST}", data_dir=data_dir, admin_key=admin_key)
        server._transport = PortalTransport(portal, app)
        yield server
