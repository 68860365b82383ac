"""Streaming reads behind the event-log export (``complaints export``, ``GET /reports/event-log``).

Every read goes through a server-side cursor (``yield_per``): on PostgreSQL a
named cursor, on SQLite the driver's own row stepping, so a million events are
never all in memory. Events come in case order, then ``seq``, so a writer can
close one trace before it starts the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.tables import cases, deadlines, events

BATCH = 5000


@dataclass(frozen=True)
class LogFilter:
    """Which events: one policy (``version`` None: all of its versions), occurred in [since, until)."""

    policy_id: str | None = None
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[Any]:
        clauses: list[Any] = []
        if self.policy_id is not None:
            clauses.append(events.c.policy_id == self.policy_id)
        if self.version is not None:
            clauses.append(events.c.policy_version == self.version)
        if self.since is not None:
            clauses.append(events.c.occurred_at >= self.since)
        if self.until is not None:
            clauses.append(events.c.occurred_at < self.until)
        return clauses


EVENT_COLUMNS = (
    events.c.id,
    events.c.case_id,
    events.c.seq,
    events.c.name,
    events.c.data,
    events.c.occurred_at,
    events.c.actor,
    events.c.policy_id,
    events.c.policy_version,
    events.c.state_before,
    events.c.state_after,
    cases.c.state.label("case_state"),
    cases.c.closure_reason,
    cases.c.external_ref,
)


def event_rows(connection: sa.Connection, which: LogFilter, batch: int = BATCH) -> Iterator[Any]:
    """Every event matching ``which``, with its case's state and outcome, by case then seq, streamed."""
    query = (
        sa.select(*EVENT_COLUMNS)
        .select_from(events.join(cases, cases.c.id == events.c.case_id))
        .where(*which.where())
        .order_by(events.c.case_id, events.c.seq)
    )
    yield from connection.execution_options(yield_per=batch).execute(query)


def bare_rows(connection: sa.Connection, which: LogFilter, batch: int = BATCH) -> int:
    """The same rows, read and dropped: the baseline bench/export.py measures the export against."""
    query = (
        sa.select(*EVENT_COLUMNS)
        .select_from(events.join(cases, cases.c.id == events.c.case_id))
        .where(*which.where())
        .order_by(events.c.case_id, events.c.seq)
    )
    count = 0
    for _ in connection.execution_options(yield_per=batch).execute(query):
        count += 1
    return count


def case_rows(connection: sa.Connection, which: LogFilter, batch: int = BATCH) -> Iterator[Any]:
    """The cases with at least one matching event (OCEL objects), streamed."""
    ids = sa.select(events.c.case_id).where(*which.where()).distinct()
    query = (
        sa.select(
            cases.c.id,
            cases.c.policy_id,
            cases.c.policy_version,
            cases.c.state,
            cases.c.closure_reason,
            cases.c.opened_at,
            cases.c.external_ref,
        )
        .where(cases.c.id.in_(ids))
        .order_by(cases.c.id)
    )
    yield from connection.execution_options(yield_per=batch).execute(query)


def deadline_rows(connection: sa.Connection, which: LogFilter, batch: int = BATCH) -> Iterator[Any]:
    """Distinct (case, kind, due) deadlines of those cases (OCEL objects), streamed."""
    ids = sa.select(events.c.case_id).where(*which.where()).distinct()
    query = (
        sa.select(deadlines.c.case_id, deadlines.c.kind, deadlines.c.due, sa.func.min(deadlines.c.breach_at))
        .where(deadlines.c.case_id.in_(ids))
        .group_by(deadlines.c.case_id, deadlines.c.kind, deadlines.c.due)
        .order_by(deadlines.c.case_id, deadlines.c.kind, deadlines.c.due)
    )
    yield from connection.execution_options(yield_per=batch).execute(query)


def handler_names(connection: sa.Connection, which: LogFilter) -> Iterator[str]:
    """Every handler named by an acknowledgement (OCEL objects): few, one per member of staff."""
    handler = events.c.data["handler"].as_string()
    query = (
        sa.select(handler)
        .where(*which.where(), events.c.name == "acknowledge", handler.is_not(None))
        .distinct()
        .order_by(handler)
    )
    yield from connection.execute(query).scalars()
