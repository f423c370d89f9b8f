"""What both engines do with a compiled statement: its positional arguments, processed."""

from __future__ import annotations

from typing import Any


def positional_args(compiled: Any, params: dict[str, Any]) -> list[Any]:
    """The statement's parameters in placeholder order, each through its type's bind processor
    (UTC datetimes, JSON), as the driver takes them."""
    processors = compiled._bind_processors
    args = []
    for name in compiled.positiontup or ():
        value = params[name]
        process = processors.get(name)
        args.append(process(value) if process is not None else value)
    return args
