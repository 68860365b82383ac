"""The work list in SQL: the obligations still owed, in due order, one page at a time.

One statement counts and one selects the page, both over the deadline rows
(``ix_deadlines_report`` leads with status and kind) joined to ``cases`` by
its key. A row is owed when it is ``open``, or ``passed`` (breached) and
still unmet by workflow/worklist.py's three rules, each a column test or an
``EXISTS`` on a primary-key / case-history index range of the same case.

The handler is not a column: it is the ``handler`` of the case's latest
applied ``acknowledge`` event (what the snapshot's last handler holds). It is
read for the page's cases only, in one more statement, and as a correlated
subquery only when the caller filters on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from storage.tables import cases, deadlines, events
from workflow.case import OPEN, PASSED
from workflow.worklist import LIVE_STATES, MET_IN_PLACE, OBLIGATIONS


@dataclass(frozen=True)
class WorkFilter:
    """Already validated (service/work.py). ``due_before`` exclusive; the handler compared trimmed, any case."""

    due_before: date | None = None
    kind: str | None = None
    handler: str | None = None
    policy_id: str | None = None
    policy_version: int | None = None
    state: str | None = None


@dataclass(frozen=True)
class WorkRow:
    case_id: str
    number: int
    policy_id: str
    policy_version: int
    kind: str
    stage: int
    due: date
    breach_at: Any
    status: str
    state: str
    handler: str | None


_later = deadlines.alias("later")
_acks = events.alias("acks")


def _still_unmet() -> list[Any]:
    """A breached row that nothing has met, cancelled or replaced since (workflow/worklist.py).

    The ``EXISTS`` tests name the case through ``cases.id``, not the deadline's own column, so that a
    planner can only test them once the case row is joined: the state test, which drops most breached
    rows (their cases moved on long ago), runs first.
    """
    live = sa.or_(*(sa.and_(deadlines.c.kind == k, cases.c.state.in_(s)) for k, s in LIVE_STATES.items()))
    replaced = (
        sa.select(sa.literal(1))
        .where(_later.c.case_id == cases.c.id, _later.c.kind == deadlines.c.kind, _later.c.number > deadlines.c.number)
        .exists()
    )
    met_in_place = [
        sa.and_(
            deadlines.c.kind == kind,
            sa.select(sa.literal(1))
            .where(_acks.c.case_id == cases.c.id, _acks.c.seq > deadlines.c.closed_seq, _acks.c.name == name)
            .exists(),
        )
        for kind, name in MET_IN_PLACE.items()
    ]
    return [live, ~replaced, ~sa.or_(*met_in_place)]


def handler_of(case_id: Any) -> Any:
    """The case's handler now: the latest applied ``acknowledge``'s ``handler`` (a scalar subquery)."""
    return (
        sa.select(events.c.data["handler"].as_string())
        .where(events.c.case_id == case_id, events.c.name == "acknowledge")
        .order_by(events.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


def _conditions(f: WorkFilter) -> list[Any]:
    """What both halves share: the kinds, the due date and the case filters."""
    where: list[Any] = [deadlines.c.kind.in_([f.kind] if f.kind is not None else OBLIGATIONS)]
    if f.due_before is not None:
        where.append(deadlines.c.due < f.due_before)
    if f.policy_id is not None:
        where.append(cases.c.policy_id == f.policy_id)
    if f.policy_version is not None:
        where.append(cases.c.policy_version == f.policy_version)
    if f.state is not None:
        where.append(cases.c.state == f.state)
    if f.handler is not None:
        where.append(sa.func.lower(sa.func.trim(handler_of(cases.c.id))) == f.handler.strip().lower())
    return where


def _halves(f: WorkFilter, *columns: Any) -> list[Any]:
    """Open rows, and breached rows still unmet: two index ranges (status, kind), never an OR across them."""
    shared = _conditions(f)
    return [
        sa.select(*columns).select_from(_SOURCE).where(deadlines.c.status == OPEN, *shared),
        sa.select(*columns).select_from(_SOURCE).where(deadlines.c.status == PASSED, *shared, *_still_unmet()),
    ]


_SOURCE = deadlines.join(cases, cases.c.id == deadlines.c.case_id)
_COLUMNS = (
    deadlines.c.case_id,
    deadlines.c.number,
    cases.c.policy_id,
    cases.c.policy_version,
    deadlines.c.kind,
    deadlines.c.stage,
    deadlines.c.due,
    deadlines.c.breach_at,
    deadlines.c.status,
    cases.c.state,
)


def count_work(connection: sa.Connection, f: WorkFilter) -> int:
    opened, breached = (half.scalar_subquery() for half in _halves(f, sa.func.count()))
    return int(connection.execute(sa.select(opened + breached)).scalar_one())


def find_work(connection: sa.Connection, f: WorkFilter, limit: int, offset: int) -> list[WorkRow]:
    """One page of owed obligations: due, then breach instant, case id, number (a total order)."""
    owed = sa.union_all(*_halves(f, *_COLUMNS)).subquery("owed")
    query = (
        sa.select(*owed.c)
        .order_by(owed.c.due, owed.c.breach_at, owed.c.case_id, owed.c.number)
        .limit(limit)
        .offset(offset)
    )
    rows = connection.execute(query).all()
    handlers = handlers_of(connection, sorted({r.case_id for r in rows}))
    return [WorkRow(*r, handler=handlers.get(r.case_id)) for r in rows]


def handlers_of(connection: sa.Connection, case_ids: Sequence[str]) -> dict[str, str]:
    """Each case's handler now (cases nobody acknowledged are absent), in one statement."""
    if not case_ids:
        return {}
    wanted = sa.select(cases.c.id, handler_of(cases.c.id).label("handler")).where(cases.c.id.in_(list(case_ids)))
    found: dict[str, str] = {}
    for case_id, handler in connection.execute(wanted):
        text = handler.strip() if isinstance(handler, str) else None
        if text:
            found[case_id] = text
    return found
