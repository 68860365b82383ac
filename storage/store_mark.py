"""Which events a kept figure was counted from, so that a later read can count only the events committed since.

``store_version`` (storage/store_version.py) tells whether anything was
committed; a ``StoreMark`` says exactly which events a result covered, read
in the same snapshot as the result, so the next result can fold in just the
events outside it instead of reading the whole store again:

- SQLite commits event ids in increasing order (one writer): the mark is the
  largest id, and the events after it are ``id > last_id``;
- PostgreSQL can commit a lower id after a higher one is visible. Every
  transaction older than the snapshot's ``xmin`` has ended, so the events with
  ``txid < xmin`` were all visible; the ones at or above it that were visible
  are listed (``recent``: a few rows of the ``ix_events_feed`` index). The
  events after the mark are ``txid >= xmin`` and not in ``recent``.

The reads that use a mark must share one snapshot with it: ``snapshot`` opens
a read-only transaction that is (SQLite's ``BEGIN`` on a WAL database, and
PostgreSQL's ``REPEATABLE READ``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.store_version import SNAPSHOT_XMIN, store_version
from storage.tables import events


@dataclass(frozen=True)
class StoreMark:
    """The events a result covered: ids to ``last_id`` (SQLite); txids below ``xmin``, and ``recent`` (PostgreSQL)."""

    last_id: int = 0
    xmin: int | None = None
    recent: frozenset[int] = frozenset()

    def after(self, table: Any) -> sa.ColumnElement[bool]:
        """Rows of ``table`` (``events`` or an alias of it) committed after this mark."""
        if self.xmin is None:
            return table.c.id > self.last_id
        newer = table.c.txid >= self.xmin
        return sa.and_(newer, table.c.id.not_in(sorted(self.recent))) if self.recent else newer

    def added(self, table: Any, name: str = "added") -> sa.ColumnElement[bool]:
        """As ``after``, for a query that reads ``table`` by other conditions too: the ids after the mark are
        found first (a primary-key or ``ix_events_feed`` range, materialized), so the planner cannot choose
        to scan a wide index for the other conditions and test the mark row by row."""
        ids = sa.select(events.c.id).where(self.after(events)).cte(name).prefix_with("MATERIALIZED")
        return table.c.id.in_(sa.select(ids.c.id))

    def covers(self, table: Any) -> sa.ColumnElement[bool]:
        """Rows of ``table`` this mark covered (every visible row not ``after`` it)."""
        if self.xmin is None:
            return table.c.id <= self.last_id
        older = table.c.txid < self.xmin
        return sa.or_(older, table.c.id.in_(sorted(self.recent))) if self.recent else older


def read_mark(connection: sa.Connection) -> StoreMark:
    """The mark of what ``connection``'s snapshot sees (call it inside ``snapshot``)."""
    if connection.dialect.name == "sqlite":
        return StoreMark(last_id=store_version(connection)[0])  # the largest committed id
    xmin = int(connection.execute(sa.select(SNAPSHOT_XMIN)).scalar_one())
    recent = connection.execute(sa.select(events.c.id).where(events.c.txid >= xmin)).scalars()
    return StoreMark(xmin=xmin, recent=frozenset(int(i) for i in recent))


@contextmanager
def snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """A read-only connection whose statements all see one snapshot of the store."""
    connection = engine.connect()
    if engine.dialect.name == "sqlite":
        connection = connection.execution_options(complaints_write=False)  # BEGIN, not BEGIN IMMEDIATE
    else:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    try:
        with connection.begin():
            yield connection
    finally:
        connection.close()


def earliest_touched(connection: sa.Connection, mark: StoreMark) -> Any:
    """The earliest ``occurred_at`` of any event of a case written after ``mark`` (None: nothing written).

    A figure over a period that ends at or before it reads nothing those cases changed: every event,
    deadline and opening of theirs that a period's report reads happened at or after this instant
    (api/console/routes_reports.py keeps such figures across writes).
    """
    o = events.alias("o")
    touched = sa.select(o.c.case_id).where(mark.added(o, "touched"))
    query = sa.select(sa.func.min(events.c.occurred_at)).where(events.c.case_id.in_(touched))
    return connection.execute(query).scalar_one()


def new_cases(connection: sa.Connection, mark: StoreMark, limit: int) -> list[str] | None:
    """The cases written after ``mark`` when every one of them is new since it, and there are at most ``limit``;
    otherwise None.

    A case is new when none of its events is covered by the mark: it did not exist then (a case, its first
    event and its deadlines are written in one transaction), so it added nothing to a figure counted at the
    mark, and that figure plus the new cases' own counts is the figure now (api/console/routes_reports.py).
    """
    o = events.alias("o")
    touched = sa.select(o.c.case_id).where(mark.added(o, "touched")).distinct().limit(limit + 1)
    ids = sorted(connection.execute(touched).scalars())
    if len(ids) > limit:
        return None
    covered = sa.select(sa.literal(1)).where(events.c.case_id.in_(ids), mark.covers(events)).limit(1)
    if ids and connection.execute(covered).first() is not None:
        return None
    return ids
