"""An upstream index whose file downloads wait at a gate the test opens, and are counted: to
stop a job mid-download for as long as a scenario needs, then see how often each file was
fetched. Core metadata is offered (PEP 658) and served at once, uncounted, so that only the
downloads of files themselves are counted."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.support.appserver import app_server

GATE_TIMEOUT = 30.0
PROJECT = "gated"


@dataclass
class GatedUpstream:
    # filename -> (the file, its core metadata); every file belongs to PROJECT
    files: dict[str, tuple[bytes, bytes]]
    url: str = ""
    downloads: Counter[str] = field(default_factory=Counter)
    gate: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple/"

    def count(self, filename: str) -> int:
        with self._lock:
            return self.downloads[filename]

    def wait_for_download(self, filename: str, timeout: float = 20) -> None:
        """Until a download of ``filename`` has started (it then waits at the gate)."""
        deadline = time.monotonic() + timeout
        while not self.count(filename):
            if time.monotonic() > deadline:
                raise AssertionError(f"{filename} was never asked for")
            time.sleep(0.02)

    def app(self) -> Starlette:
        def link(name: str, data: bytes, meta: bytes) -> str:
            digest, meta_digest = hashlib.sha256(data).hexdigest(), hashlib.sha256(meta).hexdigest()
            href = f"{self.url}/files/{name}#sha256={digest}"
            return f'<a href="{href}" data-core-metadata="sha256={meta_digest}">{name}</a>'

        async def page(request: Request) -> Response:
            links = "".join(link(name, *pair) for name, pair in self.files.items())
            return HTMLResponse(f"<html><body>{links}</body></html>")

        async def download(request: Request) -> Response:
            name = request.path_params["name"]
            if name.endswith(".metadata") and name.removesuffix(".metadata") in self.files:
                return Response(self.files[name.removesuffix(".metadata")][1])
            if name not in self.files:
                return Response(status_code=404)
            with self._lock:
                self.downloads[name] += 1
            await anyio.to_thread.run_sync(self.gate.wait, GATE_TIMEOUT)
            return Response(self.files[name][0], media_type="application/octet-stream")

        return Starlette(routes=[Route(f"/simple/{PROJECT}/", page), Route("/files/{name}", download)])


@contextmanager
def gated_upstream(files: dict[str, tuple[bytes, bytes]]) -> Iterator[GatedUpstream]:
    upstream = GatedUpstream(files)
    with app_server(upstream.app()) as url:
        upstream.url = url
        try:
            yield upstream
        finally:
            upstream.gate.set()  # nothing waits past the test
