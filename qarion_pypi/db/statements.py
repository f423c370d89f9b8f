"""Compiled statements, shared by both engines: SQLAlchemy Core in, SQL text and driver arguments
out, with the column types' bind and result processing applied (UTC datetimes, JSON, booleans),
so rows come back alike from SQLite and PostgreSQL.

Two kinds of statement reach an engine. Most are built per call, with their values inside; they
are compiled once per shape, found again by SQLAlchemy's cache key. Hot-path statements are built
once, at import, with ``sa.bindparam`` placeholders (an INSERT with none: its values are the
parameters) and run with a mapping of parameters: they are compiled once per process and found by
identity, skipping both the construction and the cache key, which cost more than running an
indexed query on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.ddl import DDLElement
from sqlalchemy.sql.dml import Insert

Params = Mapping[str, Any]
_LIMIT = 2000  # compilations kept per kind; a full cache starts again


@dataclass(frozen=True)
class Compiled:
    sql: str
    statement: Any  # SQLAlchemy's compiled form
    columns: list[tuple[str, Callable[[Any], Any] | None]]  # per result column: name, processor
    defaults: list[tuple[str, Any]]  # an INSERT's columns with a Python-side default

    @classmethod
    def of(cls, statement: Any, dialect: Dialect) -> Compiled:
        columns = [
            (column.keyname, column.type._cached_result_processor(dialect, None))
            for column in getattr(statement, "_result_columns", None) or ()  # DDL has none
        ]
        prefetch = getattr(statement, "insert_prefetch", None) or ()
        defaults = [(column.key, column.default) for column in prefetch if column.default is not None]
        return cls(statement.string, statement, columns, defaults)

    def args(self, params: Params | None = None, extracted: Any = None) -> list[Any]:
        """The parameters in placeholder order, each through its type's bind processor; an
        INSERT's columns left out take their defaults."""
        compiled = self.statement
        if params is not None and self.defaults:
            params = {**{key: _default(default) for key, default in self.defaults if key not in params}, **params}
        values = compiled.construct_params(params=params, extracted_parameters=extracted)
        processors = compiled._bind_processors
        args = []
        for name in compiled.positiontup or ():
            value = values[name]
            process = processors.get(name)
            args.append(process(value) if process is not None else value)
        return args

    def rows(self, records: list[Any], names: list[str] | None = None) -> list[dict[str, Any]]:
        """Driver rows as mappings; textual SQL (no known columns) keeps the driver's names."""
        if not self.columns:
            return [dict(zip(names or (), record, strict=True)) for record in records]
        columns = self.columns
        return [
            {name: process(value) if process else value for (name, process), value in zip(columns, record, strict=True)}
            for record in records
        ]


def _default(default: Any) -> Any:
    if default.is_scalar:
        return default.arg
    return default.arg(None)  # SQLAlchemy wraps a callable default to take an execution context


class Compilations:
    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._by_key: dict[Any, Compiled] = {}
        self._expanding: dict[Any, None] = {}
        self._prepared: dict[tuple[int, tuple[str, ...]], tuple[ClauseElement, Compiled]] = {}

    def of(self, query: ClauseElement, params: Params | None = None) -> tuple[Compiled, list[Any]]:
        """The compiled form of ``query`` and this call's arguments."""
        if params is not None:
            return self._prepared_form(query, params)
        if isinstance(query, DDLElement):
            return Compiled.of(query.compile(dialect=self._dialect), self._dialect), []
        cache_key = query._generate_cache_key()
        if cache_key is not None and cache_key.key not in self._expanding:
            compiled = self._by_key.get(cache_key.key)
            if compiled is None:
                statement = query.compile(dialect=self._dialect, cache_key=cache_key)
                if "POSTCOMPILE" in statement.string:  # IN lists and the like expand per call
                    self._keep(self._expanding, cache_key.key, None)
                else:
                    compiled = self._keep(self._by_key, cache_key.key, Compiled.of(statement, self._dialect))
            if compiled is not None:
                return compiled, compiled.args(extracted=cache_key.bindparams)
        statement = query.compile(dialect=self._dialect, compile_kwargs={"render_postcompile": True})
        once = Compiled.of(statement, self._dialect)
        return once, once.args()

    def _prepared_form(self, query: ClauseElement, params: Params) -> tuple[Compiled, list[Any]]:
        key = (id(query), tuple(params))
        entry = self._prepared.get(key)
        if entry is None:
            # An INSERT's parameters are its columns; other statements name their placeholders
            # (apart from the columns an UPDATE sets: SQLAlchemy keeps those names for itself).
            columns = list(params) if isinstance(query, Insert) else None
            statement = query.compile(dialect=self._dialect, column_keys=columns)
            # The statement is kept with its compilation: its id stays its own.
            entry = self._keep(self._prepared, key, (query, Compiled.of(statement, self._dialect)))
        compiled = entry[1]
        return compiled, compiled.args(params)

    @staticmethod
    def _keep(cache: dict[Any, Any], key: Any, value: Any) -> Any:
        if len(cache) >= _LIMIT:
            cache.clear()
        cache[key] = value
        return value
