"""The feed's hot read (``GET /feed``, ``feed tail``): a page of event rows as the driver's plain tuples.

A page is two statements: the events after the cursor, then a probe for a notification among them. Each is
compiled once per dialect and shape of the cursor condition (storage/feed_queries.py's ``after_position``) and run
with ``exec_driver_sql``: building a statement, its cache key and its result for every page cost about a
fifth of the bare rows' own time (bench/feed.py).

Why a probe after the events is enough (no gap, no repeat; the order is storage/feed_queries.py's): a
notification that belongs before the page's last event has a key below that event's. On PostgreSQL that
key is then below the events statement's oldest transaction in flight, so the notification's transaction
had ended before the events were read, and the later probe sees it; on SQLite both statements read one
snapshot (one read transaction). When the probe finds one, the caller reads the page again with
``read_rows`` (both tables cut at one oldest transaction, merged): only pages with a reminder in them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from storage.database import is_postgres
from storage.feed_queries import EVENT, EVENT_COLUMNS, NOTIFICATION, after_position, events_query
from storage.tables import events, notifications

T = TypeVar("T")
_KEY, _ID, _LIMIT, _BEFORE = (
    sa.bindparam(n, type_=sa.BigInteger) for n in ("after_key", "after_id", "limit", "before")
)


class _Prepared:
    """A statement's SQL text per dialect and how to bind it: the parameters in the driver's order (None: by
    name), and the statement's own constants (SQLite's ``OFFSET 0`` of a bound limit)."""

    def __init__(self, build: Callable[[], sa.Select[Any]]) -> None:
        self.build = build
        self.compiled: weakref.WeakKeyDictionary[Dialect, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def run(self, connection: sa.Connection, values: dict[str, int]) -> Any:
        found = self.compiled.get(connection.dialect) or self._compile(connection.dialect)
        sql, order, constants = found
        values = {**constants, **values}
        return connection.exec_driver_sql(sql, tuple(values[n] for n in order) if order is not None else values)

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self.build().compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        constants = {name: value for name, value in compiled.params.items() if value is not None}
        found = self.compiled[dialect] = (str(compiled), order, constants)
        return found


def _events_page(postgres: bool, after_kind: int) -> _Prepared:
    """Event rows after a cursor of kind ``after_kind``: ``read_events``' columns, the key and the id as text
    (the envelope and the cursor want text, and the database writes an integer as text for less than
    Python formats one, three times an entry)."""
    key = events.c.txid if postgres else events.c.id
    columns = (sa.cast(key, sa.Text).label("key"), sa.cast(events.c.id, sa.Text).label("id"), *EVENT_COLUMNS[1:])
    return _Prepared(lambda: events_query(postgres, (_KEY, after_kind, _ID)).with_only_columns(*columns).limit(_LIMIT))


def _probe(after_kind: int, bounded: bool) -> _Prepared:
    """Whether a notification comes after a cursor of kind ``after_kind`` (and, ``bounded``, before the key
    ``before``: inside a full page of events whose last key that is)."""

    def build() -> sa.Select[Any]:
        query = sa.select(notifications.c.id).where(
            after_position(notifications.c.txid, notifications.c.id, NOTIFICATION, (_KEY, after_kind, _ID))
        )
        return (query.where(notifications.c.txid < _BEFORE) if bounded else query).limit(1)

    return _Prepared(build)


_EVENTS = {
    (postgres, kind): _events_page(postgres, kind) for postgres in (False, True) for kind in (EVENT, NOTIFICATION)
}
_PROBES = {(kind, bounded): _probe(kind, bounded) for kind in (EVENT, NOTIFICATION) for bounded in (False, True)}


def map_events(
    connection: sa.Connection, after: tuple[int, int, int], limit: int, build: Callable[[tuple[Any, ...]], T]
) -> tuple[list[T], tuple[Any, ...] | None]:
    """``build`` of each event row after ``after`` (``read_events``' columns as the driver's plain tuple, the
    key and id as text), and the last row (None when there was none): the feed's hot path.

    Each row is taken from the DBAPI cursor and built at once: iterating a SQLAlchemy result wraps every
    tuple in a row object, and a page of tuples kept alive is cold in the CPU's cache by the time it is
    built. These columns need no result processing (texts, integers, PostgreSQL's datetimes as psycopg
    makes them)."""
    values = {"after_key": after[0], "after_id": after[2], "limit": limit}
    result = _EVENTS[is_postgres(connection), after[1]].run(connection, values)
    built: list[T] = []
    add = built.append
    last = None
    try:
        for last in result.cursor:
            add(build(last))
    finally:
        result.close()
    return built, last


def notification_within(connection: sa.Connection, after: tuple[int, int, int], before_key: int | None) -> bool:
    """Whether a notification comes after ``after`` and (unless None) before the event key ``before_key``."""
    values = {"after_key": after[0], "after_id": after[2]}
    if before_key is not None:
        values["before"] = before_key
    result = _PROBES[after[1], before_key is not None].run(connection, values)
    try:
        return result.cursor.fetchone() is not None
    finally:
        result.close()
