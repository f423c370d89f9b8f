"""``qarion-pypi admin``: users and keys, made on the data dir."""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from qarion_pypi.cli.common import data_options, with_context
from qarion_pypi.config import Settings
from qarion_pypi.context import Context
from qarion_pypi.services.accounts import keys, users


def add(commands: Any) -> None:
    admin = commands.add_parser("admin", help="manage users and keys on the data dir")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create_user = admin_commands.add_parser("create-user", help="create a user")
    create_user.add_argument("name")
    create_user.add_argument("--admin", action="store_true", help="make the user a platform admin")
    data_options(create_user)
    create_key = admin_commands.add_parser("create-key", help="create an API key for a user and print it")
    create_key.add_argument("name", help="the user's name")
    create_key.add_argument("--key-name", default="cli", help="a label for the key (default: cli)")
    data_options(create_key)


def run(args: argparse.Namespace, settings: Settings) -> int:
    async def create_user(ctx: Context) -> str:
        row = await users.create_user(ctx, args.name, is_admin=args.admin)
        return f"Created user {row['username']!r}" + (" (platform admin)" if row["is_admin"] else "")

    async def create_key(ctx: Context) -> str:
        owner = await users.require_user(ctx, args.name)
        _, key = await keys.create_key(ctx, owner, args.key_name)
        return key

    action = create_user if args.admin_command == "create-user" else create_key
    print(anyio.run(with_context, settings, action))
    return 0
