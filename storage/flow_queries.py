"""SQL over the events table for the process map: what happened, how often, and when states were entered.

Counts are grouped in the database (``GROUP BY state_before, state_after,
name, deadline kind``), so a map of a million events moves a few dozen rows.
The time each state-changing event took is measured from the previous state
change of the same case, found with the ``LAG`` window function (SQLite 3.25+
and PostgreSQL). A case belongs to the map when it was received (``cases.opened_at``)
in the period: the map follows a cohort of cases through the whole procedure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from storage.report_queries import as_date, london_date, register_london_date
from storage.store_mark import StoreMark
from storage.tables import UTCDateTime, cases, events


@dataclass(frozen=True)
class Cohort:
    """Which cases a report covers: one policy (all versions, or one), received in [since, until)."""

    policy_id: str
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses = self.policy(events)
        if self.since is not None:
            clauses.append(cases.c.opened_at >= self.since)
        if self.until is not None:
            clauses.append(cases.c.opened_at < self.until)
        return clauses

    def policy(self, table: Any) -> list[sa.ColumnElement[bool]]:
        """The policy conditions on ``table`` (``events`` or an alias): every event row names its case's policy."""
        clauses = [table.c.policy_id == self.policy_id]
        if self.version is not None:
            clauses.append(table.c.policy_version == self.version)
        return clauses

    @property
    def needs_cases(self) -> bool:
        """Whether the cohort reads ``cases`` (its received period); the policy is on every event row."""
        return self.since is not None or self.until is not None


def _joined(cohort: Cohort) -> sa.FromClause:
    return events.join(cases, cases.c.id == events.c.case_id) if cohort.needs_cases else events


def case_count(connection: sa.Connection, cohort: Cohort, after: StoreMark | None = None) -> int:
    """Cases of the cohort; ``after`` a mark, only those whose first event in the cohort came after it."""
    query = sa.select(sa.func.count(sa.distinct(events.c.case_id))).select_from(_joined(cohort)).where(*cohort.where())
    if after is not None:
        o = events.alias("o")
        counted = sa.select(o.c.id).where(o.c.case_id == events.c.case_id, *cohort.policy(o), after.covers(o))
        query = query.where(after.added(events), ~counted.exists())
    return int(connection.execute(query).scalar_one())


@dataclass(frozen=True)
class TransitionCount:
    source: str
    target: str
    name: str
    kind: str | None
    count: int


def transition_counts(
    connection: sa.Connection, cohort: Cohort, after: StoreMark | None = None
) -> list[TransitionCount]:
    """Every (from, to, event, deadline kind) that happened (``after`` a mark: since it), with how often.

    Two grouped queries: the passed deadlines with their kind (the one JSON read, on those rows only),
    and every other event without reading its data, in the order one grouped query would give.
    """
    keys = (events.c.state_before, events.c.state_after, events.c.name)
    passed = events.c.name == "deadline_passed"
    kind = events.c.data["deadline"].as_string()
    where = [*cohort.where(), *([after.added(events)] if after is not None else [])]
    with_kind = (
        sa.select(*keys, kind.label("kind"), sa.func.count())
        .select_from(_joined(cohort))
        .where(*where, passed)
        .group_by(*keys, kind)
    )
    others = (
        sa.select(*keys, sa.null().label("kind"), sa.func.count())
        .select_from(_joined(cohort))
        .where(*where, ~passed)
        .group_by(*keys)
    )
    rows = [TransitionCount(*row) for query in (with_kind, others) for row in connection.execute(query)]
    return sorted(rows, key=lambda r: (r.source, r.target, r.name, r.kind is not None, r.kind or ""))


@dataclass(frozen=True)
class StateChanges:
    """How many events of one kind moved cases of one version from a state entered on one local date, on another."""

    policy_version: int
    source: str
    target: str
    name: str
    entered_on: date
    left_on: date
    count: int


def state_change_days(connection: sa.Connection, cohort: Cohort, after: StoreMark | None = None) -> list[StateChanges]:
    """State-changing events grouped by the Europe/London dates their case entered the state and left it.

    When a state was entered is the previous state change of the same case (``LAG``); ``receive`` has none
    and is left out. The dates are the database's (``london_date``, as the reports), so what comes back is
    a few grouped rows rather than every move. ``after`` a mark: only the moves since it, each still
    measured from its case's previous move (the ``LAG`` runs over the whole history of the cases that moved
    since: their ids are the window's rows, so the rest of the store is not read).
    """
    if connection.dialect.name == "sqlite":
        register_london_date(connection)
    entered = sa.func.lag(events.c.occurred_at, 1, type_=UTCDateTime()).over(
        partition_by=events.c.case_id, order_by=events.c.seq
    )
    where = [*cohort.where(), events.c.state_before != events.c.state_after]
    fresh: list[Any] = []
    if after is not None:
        m = events.alias("m")
        moved = sa.select(m.c.case_id).where(after.after(m), *cohort.policy(m), m.c.state_before != m.c.state_after)
        where.append(events.c.case_id.in_(moved))
        fresh = [after.after(events).label("fresh")]
    inner = (
        sa.select(
            events.c.policy_version,
            events.c.state_before,
            events.c.state_after,
            events.c.name,
            entered.label("entered_at"),
            events.c.occurred_at,
            *fresh,
        )
        .select_from(_joined(cohort))
        .where(*where)
        .subquery()
    )
    keys = [inner.c.policy_version, inner.c.state_before, inner.c.state_after, inner.c.name]
    days = [london_date(inner.c.entered_at).label("entered_on"), london_date(inner.c.occurred_at).label("left_on")]
    grouped = (
        sa.select(*keys, *days, sa.func.count())
        .where(inner.c.entered_at.is_not(None), *([inner.c.fresh] if after is not None else []))
        .group_by(*keys, days[0], days[1])
    )
    return [
        StateChanges(v, a, b, name, as_date(entered_on), as_date(left_on), n)
        for v, a, b, name, entered_on, left_on, n in connection.execute(grouped)
    ]
