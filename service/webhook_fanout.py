"""Fan-out planned outside the write lock: the feed entries each subscription has not yet queued, as rows.

Reading the feed after a subscription's cursor and building each entry's envelope is most of a fan-out's
work, and none of it needs the writer's lock: it is done in a read transaction (``plan``), and the write
transaction only inserts the rows made and moves the cursors (``queue``). A subscription whose cursor
moved in between (another instance fanned it out) is left for the next round, so each entry is queued
once per subscription: on PostgreSQL the write locks the subscription rows (``SKIP LOCKED``) before it
compares their cursors, on SQLite the writer's lock keeps every other writer out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.feed import to_entries
from storage import outbox
from storage.feed_queries import Position, head, parse_cursor, read_rows


@dataclass
class FanOut:
    """What one read found: per subscription id, the cursor it was read from, the rows for it, the new cursor."""

    due: bool = False  # a delivery was due when it read (pending, or a lease run out)
    subscriptions: dict[str, tuple[str, list[tuple[Any, ...]], str]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(len(rows) for _, rows, _ in self.subscriptions.values())


def plan(connection: sa.Connection, page: int, now: datetime) -> FanOut:
    """Read (no lock) what each subscription behind the feed's head would queue. Subscriptions at the same
    cursor (the usual case) share one read of the feed and its envelopes."""
    found = FanOut(due=outbox.anything_due(connection, now))
    subscriptions = outbox.subscription_cursors(connection)
    if not subscriptions:
        return found
    last = head(connection)
    read: dict[str, tuple[list[Any], str]] = {}  # cursor -> (entries after it, the cursor after them)
    for sub in subscriptions:
        if parse_cursor(sub.cursor) >= last:
            continue
        if sub.cursor not in read:
            rows = read_rows(connection, parse_cursor(sub.cursor), page)
            read[sub.cursor] = (to_entries(rows), Position(*rows[-1][0]).text() if rows else sub.cursor)
        entries, after = read[sub.cursor]
        if after == sub.cursor:
            continue
        wanted = set(sub.types)
        rows_for = [outbox.delivery_row(sub.id, e.id, e.type, e.subject, e.body, now)
                    for e in entries if not wanted or e.type in wanted]  # fmt: skip
        found.subscriptions[sub.id] = (sub.cursor, rows_for, after)
    return found


def queue(connection: sa.Connection, planned: FanOut) -> int:
    """In the write transaction: queue the planned rows of each subscription still at the cursor they were
    read from (locked on PostgreSQL) and move its cursor; how many rows were queued."""
    if not planned.subscriptions:
        return 0
    rows: list[tuple[Any, ...]] = []
    moved: dict[str, str] = {}
    for sub in outbox.subscriptions_to_fan_out(connection):
        plan_for = planned.subscriptions.get(sub.id)
        if plan_for is None or plan_for[0] != sub.cursor:
            continue  # nothing planned, or another instance moved it since: the next round reads again
        rows += plan_for[1]
        moved[sub.id] = plan_for[2]
    outbox.fan_out(connection, rows, moved)
    return len(rows)
