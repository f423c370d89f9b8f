"""``qarion-pypi serve``: the server, in this process."""

from __future__ import annotations

import argparse
from typing import Any

from qarion_pypi.app import create_app
from qarion_pypi.cli.common import data_options
from qarion_pypi.config import Settings
from qarion_pypi.observe import logs


def add(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the server")
    data_options(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"host": args.host, "port": args.port}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from qarion_pypi.api.protocol import GuardedHttpToolsProtocol

    logs.configure(settings.log_format, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # logs.configure set every logger up
        proxy_headers=False,
        server_header=False,
        access_log=False,  # our own request log (observe/requests.py): no query strings, a request id
        http=GuardedHttpToolsProtocol.configured(settings.header_timeout),
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout)),
    )
    return 0
