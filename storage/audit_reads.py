"""Reads for the audit (service/audit.py): a case as stored, whole (snapshot row, event rows, deadline rows).

Verifying a large landlord's whole history is dominated by reading it, so
cases are read a page at a time: one query for a page of case rows, one for
their events and one for their deadlines, each a range scan on the primary
key or on ``(case_id, seq)`` rather than a query per case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from storage.tables import cases, deadlines, events

_CASE_COLUMNS = (
    cases.c.id,
    cases.c.policy_id,
    cases.c.policy_version,
    cases.c.state,
    cases.c.closure_reason,
    cases.c.version,
    cases.c.breach_count,
    cases.c.snapshot,
)


@dataclass
class StoredCase:
    """Everything the store holds about one case, as rows (nothing interpreted yet)."""

    row: Any
    events: list[Any] = field(default_factory=list)
    deadlines: list[Any] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.row.id


def case_ids(connection: sa.Connection) -> list[str]:
    """Every case id, in the order pages are read."""
    return list(connection.execute(sa.select(cases.c.id).order_by(cases.c.id)).scalars())


def load_range(connection: sa.Connection, first: str, last: str) -> list[StoredCase]:
    """Every case whose id lies between ``first`` and ``last`` (inclusive), with its rows, in id order."""
    rows = connection.execute(
        sa.select(*_CASE_COLUMNS).where(cases.c.id >= first, cases.c.id <= last).order_by(cases.c.id)
    ).all()
    return _attach(
        connection,
        rows,
        events.c.case_id.between(first, last),
        deadlines.c.case_id.between(first, last),
    )


def load_cases(connection: sa.Connection, ids: Sequence[str]) -> list[StoredCase]:
    """The given cases (those that exist), with their rows, in id order."""
    rows = connection.execute(sa.select(*_CASE_COLUMNS).where(cases.c.id.in_(ids)).order_by(cases.c.id)).all()
    return _attach(connection, rows, events.c.case_id.in_(ids), deadlines.c.case_id.in_(ids))


def _attach(
    connection: sa.Connection, rows: Sequence[Any], event_filter: Any, deadline_filter: Any
) -> list[StoredCase]:
    found = {row.id: StoredCase(row) for row in rows}
    for event in connection.execute(sa.select(events).where(event_filter).order_by(events.c.case_id, events.c.seq)):
        stored = found.get(event.case_id)
        if stored is not None:
            stored.events.append(event)
    query = sa.select(deadlines).where(deadline_filter).order_by(deadlines.c.case_id, deadlines.c.number)
    for deadline in connection.execute(query):
        stored = found.get(deadline.case_id)
        if stored is not None:
            stored.deadlines.append(deadline)
    return list(found.values())
