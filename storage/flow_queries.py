"""SQL over the events table for the process map: what happened, how often, and when states were entered.

Counts are grouped in the database (``GROUP BY state_before, state_after,
name, deadline kind``), so a map of a million events moves a few dozen rows.
The time each state-changing event took is measured from the previous state
change of the same case, found with the ``LAG`` window function (SQLite 3.25+
and PostgreSQL). A case belongs to the map when it was received (``cases.opened_at``)
in the period: the map follows a cohort of cases through the whole procedure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from storage.tables import UTCDateTime, cases, events


@dataclass(frozen=True)
class Cohort:
    """Which cases a report covers: one policy (all versions, or one), received in [since, until)."""

    policy_id: str
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses = [events.c.policy_id == self.policy_id]
        if self.version is not None:
            clauses.append(events.c.policy_version == self.version)
        if self.since is not None:
            clauses.append(cases.c.opened_at >= self.since)
        if self.until is not None:
            clauses.append(cases.c.opened_at < self.until)
        return clauses


def _joined() -> sa.FromClause:
    return events.join(cases, cases.c.id == events.c.case_id)


def case_count(connection: sa.Connection, cohort: Cohort) -> int:
    query = sa.select(sa.func.count(sa.distinct(events.c.case_id))).select_from(_joined()).where(*cohort.where())
    return int(connection.execute(query).scalar_one())


@dataclass(frozen=True)
class TransitionCount:
    source: str
    target: str
    name: str
    kind: str | None
    count: int


def transition_counts(connection: sa.Connection, cohort: Cohort) -> list[TransitionCount]:
    """Every (from, to, event, deadline kind) that happened, with how often."""
    kind = sa.case((events.c.name == "deadline_passed", events.c.data["deadline"].as_string()), else_=None)
    query = (
        sa.select(events.c.state_before, events.c.state_after, events.c.name, kind.label("kind"), sa.func.count())
        .select_from(_joined())
        .where(*cohort.where())
        .group_by(events.c.state_before, events.c.state_after, events.c.name, kind)
    )
    return [TransitionCount(*row) for row in connection.execute(query)]


@dataclass(frozen=True)
class StateChange:
    """One event that moved a case, with the instant its previous move happened (None for ``receive``)."""

    policy_version: int
    source: str
    target: str
    name: str
    entered_at: datetime | None
    occurred_at: datetime


def state_changes(connection: sa.Connection, cohort: Cohort, batch: int = 2000) -> Iterator[StateChange]:
    """State-changing events in case order, each with when its case entered the state it leaves."""
    entered = sa.func.lag(events.c.occurred_at, 1, type_=UTCDateTime()).over(
        partition_by=events.c.case_id, order_by=events.c.seq
    )
    inner = (
        sa.select(
            events.c.policy_version,
            events.c.state_before,
            events.c.state_after,
            events.c.name,
            entered.label("entered_at"),
            events.c.occurred_at,
        )
        .select_from(_joined())
        .where(*cohort.where(), events.c.state_before != events.c.state_after)
        .subquery()
    )
    query = sa.select(inner)
    result = connection.execution_options(yield_per=batch).execute(query)
    for row in result:
        yield StateChange(*row)
