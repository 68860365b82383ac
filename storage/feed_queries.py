"""The store-wide feed: applied events and due-soon notifications, merged in one order, read from a cursor.

Every entry has a position ``(key, kind, id)``: ``kind`` 0 for an event row, 1 for a notification row.
``key`` must make the set of rows a reader may see a *prefix* of that order, so a cursor never passes a
row that commits later:

* PostgreSQL: ``key`` is the writing transaction's id (``txid``, the column default
  ``pg_current_xact_id()``). A reader serves only rows whose ``txid`` is below ``pg_snapshot_xmin`` of its
  snapshot: every transaction with a smaller id has ended, and every transaction still to commit (in flight
  or not yet begun) has an id at least that large, so nothing can later appear before a served row. Plain
  id order is not enough: ids are taken at insert, not at commit, so a transaction holding id 5 can
  commit after one holding id 6 has been served.
* SQLite: one writer at a time, holding the file from its first write to commit, so ids are taken in
  commit order; an event's ``key`` is its id, and a notification's is the highest event id when it was
  written (its ``txid`` column, filled under the same write lock).

A cursor is that position as text, ``"key.kind.id"``; ``"0.0.0"`` (or none) is the beginning.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any, NamedTuple

import sqlalchemy as sa

from storage.database import is_postgres
from storage.store_version import SNAPSHOT_XMIN as _XMIN
from storage.tables import events, notifications

EVENT, NOTIFICATION = 0, 1
_CURSOR = re.compile(r"^(\d{1,19})\.([01])\.(\d{1,19})$")
_BIGINT = 2**63 - 1  # the largest id or transaction id a column holds


class Position(NamedTuple):
    """Ordered as a tuple: key, then kind, then id (a tuple, not a dataclass: one is made per entry)."""

    key: int
    kind: int
    id: int

    def text(self) -> str:
        return f"{self.key}.{self.kind}.{self.id}"


START = Position(0, 0, 0)


class BadCursor(ValueError):
    """A cursor that is not one this feed gave out."""


def parse_cursor(text: str | None) -> Position:
    if text is None or text == "":
        return START
    match = _CURSOR.match(text)
    if match is None:
        raise BadCursor(f"{text!r} is not a feed cursor (give back a cursor the feed returned, like '0.0.0')")
    position = Position(int(match[1]), int(match[2]), int(match[3]))
    if position.key > _BIGINT or position.id > _BIGINT:  # no column holds it: the driver would overflow (a 500)
        raise BadCursor(f"{text!r} is not a feed cursor (its numbers are past any the feed gives out)")
    return position


# An event's columns as the driver gives them: the stored data as its JSON text (spliced into the envelope
# as it is, never parsed: service/feed.py), instants as SQLite's text or PostgreSQL's naive UTC datetimes.
EVENT_COLUMNS = (
    events.c.id,
    events.c.case_id,
    events.c.seq,
    events.c.name,
    sa.cast(events.c.data, sa.Text).label("data"),  # PostgreSQL's json column too: psycopg would parse it
    sa.type_coerce(events.c.occurred_at, sa.Text).label("occurred_at"),
    sa.type_coerce(events.c.recorded_at, sa.Text).label("recorded_at"),
    events.c.actor,
    events.c.policy_id,
    events.c.policy_version,
    events.c.state_before,
    events.c.state_after,
)
_EVENT_QUERIES = {  # built once: a page is a hot path
    False: sa.select(events.c.id.label("key"), *EVENT_COLUMNS),
    True: sa.select(events.c.txid.label("key"), *EVENT_COLUMNS),
}


def instant_text(value: Any) -> str:
    """A stored UTC instant as RFC 3339 text ending in Z, microseconds only when there are any (as
    ``datetime.isoformat`` writes them): from SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff`` by slicing, or from
    a datetime (naive UTC from PostgreSQL, or aware)."""
    if isinstance(value, str):
        fraction = value[19:26]
        return f"{value[:10]}T{value[11:19]}{'' if fraction in ('', '.000000') else fraction}Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def after_position(key: Any, row_id: Any, kind: int, position: tuple[Any, int, Any]) -> Any:
    """Rows of table ``kind`` positioned after ``position`` (the order is key, then kind, then id), written so
    that the (key, id) index answers it as a range. The key and id may be bound parameters
    (storage/feed_pages.py compiles each shape once)."""
    after = Position(*position)
    if key is row_id:  # SQLite's events: the key is the id itself
        return row_id > after.key if after.kind >= kind else row_id >= after.key
    if after.kind < kind:
        return key >= after.key
    if after.kind > kind:
        return key > after.key
    return sa.tuple_(key, row_id) > sa.tuple_(_value(after.key), _value(after.id))


def _value(value: Any) -> Any:
    return value if isinstance(value, sa.ClauseElement) else sa.literal(value)


Row = tuple[tuple[int, int, int], str, Any]  # (position, "event" | "notification", the row)


def events_query(postgres: bool, after: tuple[Any, int, Any], xmin: Any = _XMIN) -> sa.Select[Any]:
    """The event rows after ``after`` in feed order (``_EVENT_QUERIES``' columns; no limit yet): on PostgreSQL
    only transactions below ``xmin``, the oldest in flight (the statement's snapshot's unless one is given)."""
    event_key = events.c.txid if postgres else events.c.id
    query = _EVENT_QUERIES[postgres].where(after_position(event_key, events.c.id, EVENT, after))
    if postgres:
        return query.where(events.c.txid < xmin).order_by(events.c.txid, events.c.id)
    return query.order_by(events.c.id)


def _oldest_in_flight(connection: sa.Connection) -> int | None:
    """PostgreSQL: the snapshot's xmin, taken once so that the events and the notifications of one read are
    cut at the same transaction (each statement of a READ COMMITTED transaction has its own snapshot: cut
    at two, a notification between the two cuts could be passed by the events' cursor). None on SQLite,
    where one read transaction is one snapshot and keys are taken in commit order."""
    return connection.execute(sa.select(_XMIN)).scalar_one() if is_postgres(connection) else None


def _cut(xmin: int | None) -> Any:
    return _XMIN if xmin is None else sa.literal(xmin, sa.BigInteger)


def read_events(
    connection: sa.Connection, after: tuple[int, int, int], limit: int, xmin: int | None = None
) -> list[Any]:
    """Up to ``limit`` event rows after ``after``, in feed order (``EVENT_COLUMNS``, the key first), as rows
    with attribute access."""
    return connection.execute(events_query(is_postgres(connection), after, _cut(xmin)).limit(limit)).fetchall()


def read_notifications(
    connection: sa.Connection, after: tuple[int, int, int], limit: int, xmin: int | None = None
) -> list[Row]:
    """Up to ``limit`` due-soon notifications after ``after``, in feed order, with their positions."""
    position = after_position(notifications.c.txid, notifications.c.id, NOTIFICATION, after)
    query = sa.select(notifications).where(position)
    if is_postgres(connection):
        query = query.where(notifications.c.txid < _cut(xmin))
    query = query.order_by(notifications.c.txid, notifications.c.id).limit(limit)
    return [((r.txid, NOTIFICATION, r.id), "notification", r) for r in connection.execute(query).fetchall()]


def merge(event_rows: list[Any], notes: list[Row], limit: int) -> list[Row]:
    """Events and notifications as one list in feed order, at most ``limit`` long."""
    rows: list[Row] = [((row[0], EVENT, row[1]), "event", row) for row in event_rows]
    if notes:
        rows = sorted(rows + notes, key=lambda item: item[0])[:limit]
    return rows


def read_rows(connection: sa.Connection, after: tuple[int, int, int], limit: int) -> list[Row]:
    """Up to ``limit`` rows after ``after``, in feed order: (position, "event"|"notification", row). A position
    is a plain (key, kind, id) tuple here, not a ``Position`` (one is made per entry): ``Position(*it)``.
    Both tables are cut at one oldest transaction in flight (``_oldest_in_flight``)."""
    xmin = _oldest_in_flight(connection)
    return merge(read_events(connection, after, limit, xmin), read_notifications(connection, after, limit, xmin), limit)


def head(connection: sa.Connection) -> Position:
    """The position of the last entry a reader may see now (a new subscription starts here)."""
    rows: list[Position] = []
    after = START
    postgres = is_postgres(connection)
    event_key = events.c.txid if postgres else events.c.id
    last = sa.select(event_key, events.c.id).order_by(event_key.desc(), events.c.id.desc()).limit(1)
    last_note = sa.select(notifications.c.txid, notifications.c.id)
    if postgres:
        last = last.where(events.c.txid < _XMIN)
        last_note = last_note.where(notifications.c.txid < _XMIN)
    last_note = last_note.order_by(notifications.c.txid.desc(), notifications.c.id.desc()).limit(1)
    row = connection.execute(last).first()
    if row is not None:
        rows.append(Position(row[0], EVENT, row[1]))
    note = connection.execute(last_note).first()
    if note is not None:
        rows.append(Position(note[0], NOTIFICATION, note[1]))
    return max(rows) if rows else after


def insert_notification(connection: sa.Connection, row: dict[str, Any]) -> bool:
    """Write one notification unless it was written before (once per type, case and deadline); True if new."""
    values = dict(row)
    if not is_postgres(connection):  # its place in the feed: after every event committed so far
        values["txid"] = sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0)).scalar_subquery()
    if is_postgres(connection):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(notifications).values(**values).on_conflict_do_nothing().returning(notifications.c.id)
    return connection.execute(statement).first() is not None
