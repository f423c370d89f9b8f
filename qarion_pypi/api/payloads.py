"""Strict JSON payloads, declared once: the same specs validate requests and describe them in OpenAPI.

Unknown fields, wrong types and bad values become 422 field errors, all reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from qarion_pypi.api.http import read_json
from qarion_pypi.errors import FieldError, ValidationFailed
from qarion_pypi.services.accounts.naming import SLUG_PATTERN

# C0 controls and DEL: never part of a name, and PostgreSQL cannot store NUL at all. Multi-line
# text (descriptions) may hold tabs and line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_TYPES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", list: "array", dict: "object"}
_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = False
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    max_length: int | None = None
    non_blank: bool = False
    pattern: str | None = None  # JSON Schema only: the services check it and say why
    items: Mapping[str, Field] | None = None  # for lists of objects
    item_kind: type | None = None  # for lists of plain values
    description: str = ""
    multiline: bool = False  # may hold tabs and line breaks

    def problem(self, value: Any) -> str | None:
        # bool is an int in Python; JSON true is never a valid integer here.
        if not isinstance(value, self.kind) or (isinstance(value, bool) and self.kind is int):
            return f"must be {_TYPE_NAMES[self.kind]}"
        if (
            self.item_kind is not None
            and isinstance(value, list)
            and not all(isinstance(i, self.item_kind) for i in value)
        ):
            return f"must be a list of {_JSON_TYPES[self.item_kind]}s"
        if self.enum is not None and value not in self.enum:
            return f"must be one of: {', '.join(self.enum)}"
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            return f"must be at most {self.max_length} characters"
        if self.non_blank and isinstance(value, str) and not value.strip():
            return "must not be blank"
        if _has_control(value, _CONTROL_IN_TEXT if self.multiline else _CONTROL):
            return "must not contain control characters"
        return None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _JSON_TYPES[self.kind]}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.non_blank:
            schema["minLength"] = 1
            schema["pattern"] = r"\S"
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.items is not None:
            schema["items"] = object_schema(self.items)
        if self.item_kind is not None:
            schema["items"] = {"type": _JSON_TYPES[self.item_kind]}
        if self.description:
            schema["description"] = self.description
        if self.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        return schema


Spec = Mapping[str, Field]

NAME = Field(str, required=True, max_length=200, non_blank=True)
OPTIONAL_NAME = Field(str, max_length=200, non_blank=True)
SLUG = Field(
    str,
    max_length=64,
    pattern=SLUG_PATTERN,
    description="lowercase letters, digits and hyphens; made from the name if omitted",
)
DESCRIPTION = Field(str, max_length=10_000, multiline=True)


def _has_control(value: Any, pattern: re.Pattern[str]) -> bool:
    """In a string, or in any string a list or object holds (keys too)."""
    if isinstance(value, str):
        return bool(pattern.search(value))
    if isinstance(value, list):
        return any(_has_control(item, pattern) for item in value)
    if isinstance(value, dict):
        return any(_has_control(key, pattern) or _has_control(item, pattern) for key, item in value.items())
    return False


def object_schema(spec: Spec) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: field.json_schema() for name, field in spec.items()},
        "additionalProperties": False,
    }
    required = [name for name, field in spec.items() if field.required]
    if required:
        schema["required"] = required
    return schema


def validate(payload: Mapping[str, Any], spec: Spec) -> dict[str, Any]:
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
        problem = rule.problem(value)
        if problem is None and rule.items is not None:
            try:
                value = validate_items(value, rule.items, name)
            except ValidationFailed as exc:
                errors += exc.errors
                continue
        if problem:
            errors.append(FieldError(name, problem))
            continue
        clean[name] = value
    if errors:
        raise ValidationFailed("Invalid request payload.", errors)
    return clean


def validate_items(items: list[Any], spec: Spec, field: str) -> list[dict[str, Any]]:
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


async def read_payload(
    request: Request, spec: Spec, *, limit: int | None = None, anonymous: bool = False
) -> dict[str, Any]:
    """The request's JSON object checked against ``spec`` (after the caller's credentials, with
    the body bounded: see ``read_json``)."""
    body = (
        await read_json(request, anonymous=anonymous)
        if limit is None
        else await read_json(request, limit=limit, anonymous=anonymous)
    )
    return validate(body, spec)
