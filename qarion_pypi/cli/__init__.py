"""The ``qarion-pypi`` command: ``serve``, ``worker``, ``migrate``, ``admin``, ``osv import`` and ``check``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from qarion_pypi.cli import admin, backup, check, load, migrate, osv, serve, worker
from qarion_pypi.config import ConfigError, Settings, load_settings
from qarion_pypi.errors import QarionError


class Command(Protocol):
    def add(self, commands: Any) -> None: ...

    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


COMMANDS: dict[str, Command] = {
    "serve": serve,
    "worker": worker,
    "migrate": migrate,
    "admin": admin,
    "osv": osv,
    "check": check,
    "load": load,
    "backup": backup,
    "restore": backup,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qarion-pypi", description="A self-hosted private Python package index.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in dict.fromkeys(COMMANDS.values()):  # a module may add several commands
        command.add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        overrides: dict[str, Any] = {"data_dir": args.data_dir}
        if command is serve:
            overrides.update(serve.overrides(args))
        return command.run(args, load_settings(args.config, overrides))
    except (ConfigError, QarionError, ValueError) as exc:
        print(f"qarion-pypi: error: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
