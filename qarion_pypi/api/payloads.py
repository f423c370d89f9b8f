"""Strict JSON payload checking: unknown fields, wrong types and bad values become 422 field errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qarion_pypi.errors import FieldError, ValidationFailed

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = False
    check: Check | None = None
    nullable: bool = False


def max_length(limit: int) -> Check:
    return lambda value: f"must be at most {limit} characters" if len(value) > limit else None


def non_blank(value: str) -> str | None:
    return "must not be blank" if not value.strip() else None


def one_of(*choices: str) -> Check:
    return lambda value: None if value in choices else f"must be one of: {', '.join(choices)}"


def both(*checks: Check) -> Check:
    def run(value: Any) -> str | None:
        for check in checks:
            message = check(value)
            if message:
                return message
        return None

    return run


NAME = Field(str, required=True, check=both(non_blank, max_length(200)))


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", bool: "a boolean", int: "an integer", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def validate(payload: Mapping[str, Any], spec: Mapping[str, Field]) -> dict[str, Any]:
    """The payload's fields, checked against ``spec``; raises with every problem at once."""
    errors = [FieldError(name, "unknown field") for name in payload if name not in spec]
    clean: dict[str, Any] = {}
    for name, rule in spec.items():
        if name not in payload:
            if rule.required:
                errors.append(FieldError(name, "is required"))
            continue
        value = payload[name]
        if value is None and rule.nullable:
            clean[name] = None
            continue
        # bool is an int in Python; JSON true is never a valid integer here.
        if not isinstance(value, rule.kind) or (isinstance(value, bool) and rule.kind is int):
            errors.append(FieldError(name, f"must be {_type_name(rule.kind)}"))
            continue
        message = rule.check(value) if rule.check else None
        if message:
            errors.append(FieldError(name, message))
            continue
        clean[name] = value
    if errors:
        raise ValidationFailed("Invalid request payload.", errors)
    return clean


def validate_items(items: list[Any], spec: Mapping[str, Field], field: str) -> list[dict[str, Any]]:
    """Each item of a list field checked against ``spec``; errors name ``field[i].name``."""
    clean, errors = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(FieldError(f"{field}[{index}]", "must be an object"))
            continue
        try:
            clean.append(validate(item, spec))
        except ValidationFailed as exc:
            errors += [FieldError(f"{field}[{index}].{e.field}", e.message) for e in exc.errors]
    if errors:
        raise ValidationFailed("Invalid request payload.", errors)
    return clean
