"""Statements run with plain tuples: SQLAlchemy compiles them once, the driver gets the processed values.

A timers batch writes 500 cases in three executemany statements, and a command writes its snapshot and
events. For each row SQLAlchemy builds a parameter dict, looks every value's processor up and runs it
through generic machinery: a tenth of a fired deadline's CPU, more than the driver's own work. A
``DriverStatement`` compiles its statement once per dialect, keeps the processors its bound types give
for that dialect (the same functions SQLAlchemy calls: ``UTCDateTime``'s, ``JSON``'s serializer, the
driver's own adapters), and hands ``exec_driver_sql`` one tuple a row (a dict a row for a named
paramstyle such as psycopg's). The SQL text is SQLAlchemy's own compilation of the statement, so the
rows stored are the same (tests/integration/test_driver_rows.py compares them, both backends).

Errors still come through SQLAlchemy (``IntegrityError``, ...), and so do the connection's events.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in the driver's order
    sources: tuple[int, ...]  # for each: the index of its value in a row, or -1 for a constant
    constants: tuple[Any, ...]  # for each: its processed constant (when the source is -1)
    processors: tuple[Processor | None, ...]
    positional: bool


class DriverStatement:
    """``statement`` run with rows given as tuples in ``keys`` order; every other parameter is a constant of it."""

    def __init__(self, statement: sa.Executable, keys: Sequence[str], column_keys: Sequence[str] | None = None):
        self.statement = statement
        self.keys = tuple(keys)
        self.column_keys = list(column_keys) if column_keys is not None else None  # an INSERT's columns
        self._prepared: weakref.WeakKeyDictionary[Dialect, _Prepared] = weakref.WeakKeyDictionary()

    def execute(self, connection: sa.Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Run the statement once per row (one ``executemany``, or ``execute`` for one row); the rows it changed."""
        if not rows:
            return 0
        prepared = self._prepared.get(connection.dialect) or self._prepare(connection.dialect)
        params = [_parameters(prepared, row) for row in rows]
        if len(params) == 1:
            return connection.exec_driver_sql(prepared.sql, params[0]).rowcount
        return connection.exec_driver_sql(prepared.sql, params).rowcount

    def first(self, connection: sa.Connection, row: Sequence[Any]) -> Any:
        """Run the statement for one row and return the first row it answers (a RETURNING), or None."""
        prepared = self._prepared.get(connection.dialect) or self._prepare(connection.dialect)
        return connection.exec_driver_sql(prepared.sql, _parameters(prepared, row)).first()

    def _prepare(self, dialect: Dialect) -> _Prepared:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
        sources, constants, processors = [], [], []
        for name in names:
            bind = binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in self.keys:
                sources.append(self.keys.index(name))
                constants.append(None)
            else:
                if bind.required or bind.callable is not None:
                    raise ValueError(f"parameter {name!r} of {self.statement} is neither a key nor a constant")
                sources.append(-1)
                value = bind.effective_value
                constants.append(process(value) if process is not None else value)
            processors.append(process)
        missing = set(self.keys) - set(names)
        if missing:
            raise ValueError(f"keys {sorted(missing)} are not parameters of {self.statement}")
        prepared = _Prepared(
            str(compiled), names, tuple(sources), tuple(constants), tuple(processors), compiled.positional
        )
        self._prepared[dialect] = prepared
        return prepared


def _parameters(prepared: _Prepared, row: Sequence[Any]) -> Any:
    values = []
    for source, constant, process in zip(prepared.sources, prepared.constants, prepared.processors, strict=True):
        if source < 0:
            values.append(constant)
            continue
        value = row[source]
        values.append(process(value) if process is not None else value)  # None too, as SQLAlchemy does
    return tuple(values) if prepared.positional else dict(zip(prepared.names, values, strict=True))
