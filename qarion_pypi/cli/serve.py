"""``qarion-pypi serve``: the server, in this process or in ``--workers`` processes on one port
(``workers.py``)."""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from qarion_pypi.app import announce_admin_key, build_context, create_app, open_context
from qarion_pypi.cli import workers
from qarion_pypi.cli.common import data_options
from qarion_pypi.config import Settings
from qarion_pypi.observe import logs


def add(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the server")
    data_options(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="server processes on the port (default 1)")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"host": args.host, "port": args.port}


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    from qarion_pypi.api.protocol import GuardedHttpToolsProtocol

    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": None,  # logs.configure set every logger up
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,  # our own request log (observe/requests.py): no query strings, a request id
        "http": GuardedHttpToolsProtocol.configured(settings.header_timeout),
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_timeout)),
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if args.workers < 1:
        raise ValueError(f"--workers must be 1 or more, not {args.workers}")
    logs.configure(settings.log_format, settings.log_level)
    if args.workers == 1:
        uvicorn.run(create_app(settings), **uvicorn_options(settings))
        return 0
    workers.check_port(settings)
    anyio.run(_prepare, settings)
    given = {"config": str(args.config) if args.config else None, "overrides": _overrides(args)}
    return workers.supervise(settings, args.workers, given)


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
