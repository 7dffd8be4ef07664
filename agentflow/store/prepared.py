"""SQLAlchemy Core statements compiled once into the driver's SQL, run on a DBAPI cursor.

Executing a Core statement through a `Connection` costs 50-150 µs of SQLAlchemy's Python
(cache key, compiled-cache lookup, parameter processing, result set-up) on every call, more
than SQLite takes to run it. The hot path builds its statements with Core as usual, and
`Prepared` compiles each once per database (lists in `IN (...)` written out), keeps the
types' bind and result processors, and runs it on a cursor of `Database._hot` or
`Database._raw_read` with a plain dict of parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, cast

from sqlalchemy import Column
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Any  # a type's bind or result processor: value -> value


class Prepared:
    """One statement in the driver's SQL and parameter style, with its types' processing.

    Args:
        statement: a Core statement whose variable parts are named `bindparam`s (no
            `in_()` over a list given at execution: its length is fixed here).
        dialect: the engine's dialect.
        columns: the table columns the statement returns, in order (their types decode the
            values read back: JSON, booleans on SQLite).
    """

    def __init__(
        self, statement: ClauseElement, dialect: SADialect, columns: Sequence[Column[Any]] = ()
    ) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        defaulted = [c.name for c in [*compiled.insert_prefetch, *compiled.update_prefetch]]
        if defaulted:
            # SQLAlchemy computes these defaults as it executes; the cursor would write NULL.
            raise ValueError(f"give the statement values for {', '.join(defaulted)}")
        given = [name for name, bind in compiled.binds.items() if bind.required]
        expanded = compiled.construct_expanded_state(dict.fromkeys(given))
        self.sql: str = expanded.statement
        self.given = frozenset(given)
        self._defaults = {
            name: value.value if isinstance(value, Enum) else value
            for name, value in expanded.parameters.items()
            if name not in self.given
        }
        self._order = expanded.positiontup if compiled.positional else None
        self._bind: dict[str, Processor] = {}
        for name in given:
            processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._bind[name] = processor
        # The positional drivers' parameters, slot by slot: a given name (with its type's
        # processor, if any) or a constant of the statement.
        self._slots = [
            (name, name in self.given, self._bind.get(name), self._defaults.get(name))
            for name in self._order or ()
        ]
        self._dialect = dialect
        self._columns = list(columns)
        self._names = [column.name for column in self._columns]
        self._results: list[Processor] | None = None

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters for `values` (each named `bindparam` of the statement)."""
        if self._order is not None:
            return tuple(
                [
                    (values[name] if processor is None else processor(values[name]))
                    if given
                    else constant
                    for name, given, processor, constant in self._slots
                ]
            )
        merged = dict(self._defaults)
        for name, value in values.items():
            processor = self._bind.get(name)
            merged[name] = value if processor is None else processor(value)
        return merged

    def execute(self, cursor: Any, values: Mapping[str, Any] | None = None) -> Any:
        """Run the statement on `cursor` with `values`; returns the cursor."""
        cursor.execute(self.sql, self.parameters(values or {}))
        return cursor

    def execute_many(self, cursor: Any, values: Sequence[Mapping[str, Any]]) -> Any:
        """Run the statement once for each of `values`, in one driver call."""
        cursor.executemany(self.sql, [self.parameters(one) for one in values])
        return cursor

    def rows(self, cursor: Any, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run the statement and read back every row as a dict of its columns' values."""
        self.execute(cursor, values)
        raw = cursor.fetchall()
        if not raw:
            return []
        processors = self._result_processors(cursor)
        names = self._names
        return [
            {
                name: value if processor is None or value is None else processor(value)
                for name, processor, value in zip(names, processors, row, strict=True)
            }
            for row in raw
        ]

    def _result_processors(self, cursor: Any) -> list[Processor]:
        # Some drivers' processors depend on the type code of the column read (PostgreSQL's
        # numerics), known only once the statement has run.
        if self._results is None:
            codes = [entry[1] for entry in cursor.description]
            self._results = [
                column.type.dialect_impl(self._dialect).result_processor(self._dialect, code)
                for column, code in zip(self._columns, codes, strict=True)
            ]
        return self._results
