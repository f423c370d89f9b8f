"""``qarion-pypi serve``: the server, in this process or in ``--workers`` processes on one port.

With several workers, this process prepares the data dir once (schema, the first admin key),
then uvicorn's supervisor runs the workers, each with its own app and connections. They share
nothing but the database and the blob store, which is all the state there is: the hot-path memo
and the page cache follow the database's change token, which moves on any process's commit.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette

from qarion_pypi.app import announce_admin_key, build_context, create_app, open_context
from qarion_pypi.cli.common import data_options
from qarion_pypi.config import Settings, load_settings
from qarion_pypi.observe import logs

# How the supervisor hands the command line to the workers it spawns (they inherit the
# environment; the configuration file and the environment are read again, to the same settings).
_WORKER_ARGS = "_QARION_PYPI_SERVE_ARGS"


def add(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the server")
    data_options(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="server processes on the port (default 1)")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"host": args.host, "port": args.port}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from qarion_pypi.api.protocol import GuardedHttpToolsProtocol

    if args.workers < 1:
        raise ValueError(f"--workers must be 1 or more, not {args.workers}")
    logs.configure(settings.log_format, settings.log_level)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": None,  # logs.configure set every logger up
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,  # our own request log (observe/requests.py): no query strings, a request id
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_timeout)),
    }
    if args.workers == 1:
        http = GuardedHttpToolsProtocol.configured(settings.header_timeout)
        uvicorn.run(create_app(settings), http=http, **options)
        return 0
    anyio.run(_prepare, settings)
    config = {"config": str(args.config) if args.config else None, "overrides": _overrides(args)}
    os.environ[_WORKER_ARGS] = json.dumps(config)
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=args.workers, http=GuardedHttpToolsProtocol, **options)
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    chosen = {"data_dir": str(args.data_dir) if args.data_dir else None, **overrides(args)}
    return {name: value for name, value in chosen.items() if value is not None}


async def _prepare(settings: Settings) -> None:
    """Schema and bootstrap once, before the workers start (each would announce its own key)."""
    ctx = build_context(settings)
    key = await open_context(ctx)
    await ctx.db.disconnect()
    if key:
        announce_admin_key(key)


def worker_app() -> Starlette:
    """One worker's app (uvicorn calls this in each process it spawns)."""
    from qarion_pypi.api.protocol import GuardedHttpToolsProtocol

    given = json.loads(os.environ[_WORKER_ARGS])
    settings = load_settings(Path(given["config"]) if given["config"] else None, given["overrides"])
    logs.configure(settings.log_format, settings.log_level)
    # This process serves one app: its connections take the configured header deadline.
    GuardedHttpToolsProtocol.header_timeout = settings.header_timeout
    return create_app(settings)
