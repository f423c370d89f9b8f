"""The ``qarion-pypi`` command: ``serve``, the ``admin`` helpers and ``osv import``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from qarion_pypi.app import build_context, create_app, open_context
from qarion_pypi.config import ConfigError, Settings, load_settings
from qarion_pypi.context import Context
from qarion_pypi.errors import QarionError
from qarion_pypi.osv import loader, store
from qarion_pypi.services.accounts import users


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./qarion-data)")
    parser.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qarion-pypi", description="A self-hosted private Python package index.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    _common(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")

    admin = commands.add_parser("admin", help="manage users and keys on the data dir")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create_user = admin_commands.add_parser("create-user", help="create a user")
    create_user.add_argument("name")
    create_user.add_argument("--admin", action="store_true", help="make the user a platform admin")
    _common(create_user)
    create_key = admin_commands.add_parser("create-key", help="create an API key for a user and print it")
    create_key.add_argument("name", help="the user's name")
    create_key.add_argument("--key-name", default="cli", help="a label for the key (default: cli)")
    _common(create_key)

    osv = commands.add_parser("osv", help="manage the OSV vulnerability data scans use")
    osv_commands = osv.add_subparsers(dest="osv_command", required=True)
    osv_import = osv_commands.add_parser(
        "import", help="replace the OSV records with a PyPI export (a zip of JSON records) or a directory of them"
    )
    osv_import.add_argument("path", type=Path, help="the export zip, or a directory of .json records")
    _common(osv_import)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"data_dir": args.data_dir}
    if args.command == "serve":
        overrides.update(host=args.host, port=args.port)
    return load_settings(args.config, overrides)


def serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
    )


async def _with_context(settings: Settings, action: Callable[[Context], Awaitable[str]]) -> str:
    ctx = build_context(settings)
    key = await open_context(ctx)
    try:
        message = await action(ctx)
    finally:
        await ctx.db.disconnect()
    if key:  # a brand-new data dir: the admin key must not be lost
        message = f"Created platform admin 'admin' with API key: {key}\n{message}"
    return message


def _admin(args: argparse.Namespace, settings: Settings) -> str:
    async def create_user(ctx: Context) -> str:
        row = await users.create_user(ctx, args.name, is_admin=args.admin)
        return f"Created user {row['username']!r}" + (" (platform admin)" if row["is_admin"] else "")

    async def create_key(ctx: Context) -> str:
        owner = await users.get_user(ctx, args.name)
        assert owner is not None
        _, key = await users.create_api_key(ctx, owner, args.key_name)
        return key

    action = create_user if args.admin_command == "create-user" else create_key
    return anyio.run(_with_context, settings, action)


def _osv_import(args: argparse.Namespace, settings: Settings) -> str:
    try:
        loaded = loader.load(args.path)  # before touching the data dir: a bad path changes nothing
    except loader.LoadError as exc:
        raise ValueError(str(exc)) from None
    problems = "".join(f"\n  refused {problem}" for problem in loaded.problems)
    if not loaded.records:
        raise ValueError(
            f"{args.path} holds no usable PyPI records ({loaded.read} read, {loaded.ignored} withdrawn or not "
            f"for PyPI, {loaded.invalid} refused); the stored records are unchanged{problems}"
        )

    async def replace(ctx: Context) -> str:
        stored = await store.replace_all(ctx.db, loaded.records.values())
        return (
            f"Imported {stored} OSV records from {args.path} ({loaded.read} read, {loaded.ignored} withdrawn or "
            f"not for PyPI, {loaded.invalid} refused); the previous records were replaced.{problems}"
        )

    return anyio.run(_with_context, settings, replace)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "serve":
            serve(settings)
            return 0
        print(_osv_import(args, settings) if args.command == "osv" else _admin(args, settings))
        return 0
    except (ConfigError, QarionError, ValueError) as exc:
        print(f"qarion-pypi: error: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
