"""Report aggregations in SQL over events, deadlines and cases (SQLite and PostgreSQL alike).

Reports count facts that the event log and the deadline rows already hold, so
every figure is a GROUP BY in the database: nothing here loads cases one by
one. Two things SQL cannot do portably are pushed to the edges:

- the Europe/London date of an instant (``london_date``): PostgreSQL converts
  with its own zone data; on SQLite a deterministic Python function is
  registered on the connection. Only the month's rows that need a date pair
  (days to acknowledge / respond, ages) go through it, grouped so that the
  service gets a few hundred (date, date, count) rows;
- working days between two dates (bank holidays): the service counts them on
  those grouped date pairs.

JSON is read in one place only (the receive event's ``channel``), through
SQLAlchemy's portable JSON index, and only for the month's received rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from storage.tables import cases, deadlines, events
from workflow.calendar import LONDON
from workflow.vocabulary import WINDOWS

S1_STATES = ("stage_1", "stage_1_extended")
S2_STATES = ("stage_2", "stage_2_extended")
OPEN_STATES = ("stage_0", *S1_STATES, "stage_1_responded", "stage_2_requested", *S2_STATES)
RESPONSE_KINDS = ("stage_1_response", "stage_2_response")
SHORT_PERIOD = timedelta(days=62)


# The ways a complaint comes in: (stage, event, states before, state after or None for any).
ARRIVALS: tuple[tuple[int, str, tuple[str, ...], str | None], ...] = (
    (0, "receive", ("new",), "stage_0"),
    (1, "receive", ("new",), "stage_1"),
    (1, "log_formal", ("stage_0",), None),
    (1, "deadline_passed", ("stage_0",), "stage_1"),  # an informal breach that moves the case: its logging
    (2, "request_escalation", ("stage_1", "stage_1_extended", "stage_1_responded", "closed"), None),
)


class london_date(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it compiles to
    """The Europe/London calendar date of a stored (naive UTC) instant."""

    type = sa.Date()
    name = "london_date"
    inherit_cache = True


@compiles(london_date)
def _london_sqlite(element: london_date, compiler: Any, **kw: Any) -> str:
    return f"london_date({compiler.process(element.clauses, **kw)})"


@compiles(london_date, "postgresql")
def _london_pg(element: london_date, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CAST(timezone('Europe/London', timezone('UTC', {inner})) AS DATE)"


def _london_udf(stored: str | None) -> str | None:
    # London is UTC or UTC+1, changing on the hour: the date depends on the UTC date and hour alone.
    return None if stored is None else _london_of_hour(stored[:13])


@lru_cache(maxsize=65536)
def _london_of_hour(hour: str) -> str:
    utc = datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return utc.astimezone(LONDON).date().isoformat()


def register_london_date(connection: sa.Connection) -> None:
    """SQLite's ``london_date``: a Python function on this connection (PostgreSQL has its own zone data)."""
    raw = connection.connection.driver_connection
    raw.create_function("london_date", 1, _london_udf, deterministic=True)  # type: ignore[union-attr]


def _exists(*where: Any) -> Any:
    """EXISTS (SELECT 1 ...): SQLite reads only the index for it (``SELECT *`` makes it fetch the row)."""
    return sa.select(sa.literal(1)).where(*where).exists()


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# --- which events are what -----------------------------------------------------


def stage_of_state(column: Any) -> Any:
    return sa.case((column.in_(S1_STATES), 1), (column.in_(S2_STATES), 2), else_=None)


class ReportQueries:
    """Aggregates over ``[start, end)`` (aware instants), optionally for one policy (``id`` or id and version)
    and for some cases only (``only``: case ids; the console adds the figures of cases new since it counted)."""

    def __init__(
        self,
        connection: sa.Connection,
        policy_id: str | None = None,
        version: int | None = None,
        only: Sequence[str] | None = None,
    ) -> None:
        self.connection = connection
        self.policy_id, self.version = policy_id, version
        self.only = None if only is None else sorted(only)
        if connection.dialect.name == "sqlite":
            register_london_date(connection)

    # -- helpers ---------------------------------------------------------------

    def _policy(self, table: Any) -> list[Any]:
        """The rows of ``table`` (events, cases or an alias) in scope: the policy's, and only ``only``'s cases."""
        out = []
        if self.policy_id is not None:
            out.append(table.c.policy_id == self.policy_id)
        if self.version is not None:
            out.append(table.c.policy_version == self.version)
        return out + self._only(table.c.case_id if "case_id" in table.c else table.c.id)

    def _only(self, case_id: Any) -> list[Any]:
        return [] if self.only is None else [case_id.in_(self.only)]

    def _rows(self, query: Any) -> list[Any]:
        return list(self.connection.execute(query).all())

    # -- received --------------------------------------------------------------

    def _arrivals(self, start: datetime, end: datetime) -> list[tuple[str, Any, list[Any]]]:
        """(stage, events alias, conditions) for each way a complaint comes in between ``start`` and ``end``."""
        out = []
        for stage, name, before, after in ARRIVALS:
            e = events.alias(f"e{len(out)}")
            where = [e.c.name == name, e.c.state_before.in_(before), e.c.occurred_at >= start, e.c.occurred_at < end]
            if after is not None:
                where.append(e.c.state_after == after)
            out.append((stage, e, [*where, *self._policy(e)]))
        return out

    def received(self, start: datetime, end: datetime, by_channel: bool = False) -> list[Any]:
        """(stage[, channel], n) of complaints that came in: stage 0, 1 and 2 (escalation requests).

        One SELECT per way in, each an equality on (name, state_before) and a range on occurred_at, so an
        index on events (name, state_before, occurred_at) serves every part (docs/design.md: indexes).
        """
        parts = []
        for stage, e, where in self._arrivals(start, end):
            columns: list[Any] = [sa.literal(stage).label("stage")]
            source: Any = e
            if by_channel:
                r = events.alias(f"r{len(parts)}")  # the receive event (seq 1) carries the channel
                columns.append(sa.func.coalesce(r.c.data["channel"].as_string(), "unknown").label("channel"))
                source = e.join(r, sa.and_(r.c.case_id == e.c.case_id, r.c.seq == 1))
            parts.append(sa.select(*columns).select_from(source).where(*where))
        union = sa.union_all(*parts).subquery()
        keys = [union.c.stage, *([union.c.channel] if by_channel else [])]
        return self._rows(sa.select(*keys, sa.func.count().label("n")).group_by(*keys))

    # -- responses (CH02, KPI) -----------------------------------------------------

    def _responds(self, e: Any, start: datetime, end: datetime) -> list[Any]:
        return [
            e.c.name == "respond",
            e.c.state_before.in_((*S1_STATES, *S2_STATES)),
            e.c.occurred_at >= start,
            e.c.occurred_at < end,
            *self._policy(e),
        ]

    @staticmethod
    def _late(e: Any, before: datetime | None = None) -> Any:
        """The stage's response date passed before this response (the only way a response is not on time).

        A response meets the stage's open response deadline, so with none passed it was either met or
        there was none yet (a response before its clock started): on time by the policy's own dates.
        ``before``: only a date that passed before it (the long-period count's own condition).
        """
        d = deadlines.alias("d")
        kind = sa.case((e.c.state_before.in_(S1_STATES), RESPONSE_KINDS[0]), else_=RESPONSE_KINDS[1])
        bound = [] if before is None else [d.c.breach_at < before]
        return _exists(d.c.case_id == e.c.case_id, d.c.kind == kind, d.c.status == "passed", *bound)

    def responses(self, start: datetime, end: datetime) -> dict[int, tuple[int, int]]:
        """Per stage: (responses issued, how many were late by the policy's own dates).

        Late responses are found from the other side: the (few) response dates that passed, each joined
        to its case's response in the period, rather than a lookup for every response.
        """
        e = events.alias("e")
        stage = stage_of_state(e.c.state_before)
        issued = sa.select(e.c.state_before, sa.func.count()).where(*self._responds(e, start, end))
        counts = {1: [0, 0], 2: [0, 0]}
        for state, n in self.connection.execute(issued.group_by(e.c.state_before)):
            counts[1 if state in S1_STATES else 2][0] += n
        short = end - start <= SHORT_PERIOD
        if short or self.only is not None:  # a month, or a few cases: a lookup per response beats every passed date
            late = self._late(e, None if short else end)  # the long count's join reads dates passed before ``end``
            late_rows = sa.select(stage, sa.func.count()).where(*self._responds(e, start, end), late)
            for number, n in self.connection.execute(late_rows.group_by(stage)):
                counts[number][1] += n
            return {number: (n, k) for number, (n, k) in counts.items()}
        d = deadlines.alias("d")
        passed = (
            sa.select(d.c.case_id, d.c.kind)
            .where(d.c.status == "passed", d.c.kind.in_(RESPONSE_KINDS), d.c.breach_at < end)
            .distinct()
            .subquery("passed")
        )
        of_stage = sa.or_(
            sa.and_(passed.c.kind == RESPONSE_KINDS[0], e.c.state_before.in_(S1_STATES)),
            sa.and_(passed.c.kind == RESPONSE_KINDS[1], e.c.state_before.in_(S2_STATES)),
        )
        late = (
            sa.select(stage, sa.func.count())
            .select_from(passed.join(e, sa.and_(e.c.case_id == passed.c.case_id, of_stage)))
            .where(*self._responds(e, start, end))
            .group_by(stage)
        )
        for number, n in self.connection.execute(late):
            counts[number][1] += n
        return {number: (n, k) for number, (n, k) in counts.items()}

    def on_time_responses(
        self, start: datetime, end: datetime, policy_id: str, version: int, stage: int, extended_only: bool
    ) -> list[Any]:
        """Responses of one policy version and stage that its own dates call on time, with what the Code check reads.

        With ``extended_only``, only those that met a date set by an extension, found from the (few)
        ``extend`` events. Columns: case_id, occurred_at (the respond), met_due, original_due (the stage's
        response date before any extension), started (the stage's start), first_ack, opener (the event that
        set the date met), opener_data; met_due is None when no response date had started.
        """
        e, m = events.alias("e"), deadlines.alias("m")
        states = S1_STATES if stage == 1 else S2_STATES
        kind = RESPONSE_KINDS[stage - 1]
        x: Any
        if extended_only:  # drive from the extensions (materialized: the planner must not start from responses)
            x = (
                sa.select(events.c.case_id, events.c.seq, events.c.name, events.c.data)
                .where(
                    events.c.name == "extend",
                    events.c.state_before.in_(states),
                    events.c.occurred_at < end,
                    events.c.policy_id == policy_id,
                    events.c.policy_version == version,
                    *self._only(events.c.case_id),
                )
                .cte("extensions")
                .prefix_with("MATERIALIZED")
            )
            met_extension = sa.and_(
                m.c.case_id == x.c.case_id, m.c.opened_seq == x.c.seq, m.c.kind == kind, m.c.status == "met"
            )
            source = x.join(m, met_extension).join(e, sa.and_(e.c.case_id == m.c.case_id, e.c.seq == m.c.closed_seq))
            where: list[Any] = []
        else:
            x = events.alias("x")
            met = sa.and_(m.c.case_id == e.c.case_id, m.c.kind == kind, m.c.status == "met", m.c.closed_seq == e.c.seq)
            source = e.outerjoin(m, met).outerjoin(x, sa.and_(x.c.case_id == m.c.case_id, x.c.seq == m.c.opened_seq))
            where = [e.c.policy_id == policy_id, e.c.policy_version == version]
        r, ro, o, a = deadlines.alias("r"), events.alias("ro"), events.alias("o"), events.alias("a")
        original = (
            sa.select(r.c.due)
            .join(ro, sa.and_(ro.c.case_id == r.c.case_id, ro.c.seq == r.c.opened_seq))
            .where(r.c.case_id == m.c.case_id, r.c.kind == kind, r.c.number <= m.c.number, ro.c.name != "extend")
            .order_by(r.c.number.desc())
            .limit(1)
            .scalar_subquery()
        )
        entered = "stage_1" if stage == 1 else "stage_2_requested"
        started = (
            sa.select(o.c.occurred_at)
            .where(o.c.case_id == e.c.case_id, o.c.state_after == entered)
            .order_by(o.c.seq)
            .limit(1)
            .scalar_subquery()
        )
        ack_states = S1_STATES if stage == 1 else ("stage_2_requested",)
        first_ack = (
            sa.select(a.c.occurred_at)
            .where(a.c.case_id == e.c.case_id, a.c.name == "acknowledge", a.c.state_before.in_(ack_states))
            .order_by(a.c.seq)
            .limit(1)
            .scalar_subquery()
        )
        query = (
            sa.select(
                e.c.case_id,
                e.c.occurred_at,
                m.c.due.label("met_due"),
                original.label("original_due"),
                started.label("started"),
                first_ack.label("first_ack"),
                x.c.name.label("opener"),
                x.c.data.label("opener_data"),
            )
            .select_from(source)
            .where(*where, *self._responds(e, start, end), e.c.state_before.in_(states), ~self._late(e))
        )
        return self._rows(query)

    # -- KPI durations: (policy, stage, start date, end date, count) ---------------

    def _stage_start_pairs(self, e: Any, where: Iterable[Any], stage: Any) -> list[Any]:
        """Group ``e`` by the local date its stage started and its own local date.

        A stage starts with the first event that moved the case into it: into ``stage_1`` (formal receipt,
        going formal, an informal breach that moves the case) or into ``stage_2_requested`` (the request).
        """
        o = events.alias("o")
        entered = sa.case((stage == 1, "stage_1"), else_="stage_2_requested")
        first_in = (
            sa.select(o.c.occurred_at)
            .where(o.c.case_id == e.c.case_id, o.c.state_after == entered, o.c.seq <= e.c.seq)
            .order_by(o.c.seq)
            .limit(1)
            .scalar_subquery()
        )
        rows = (
            sa.select(
                e.c.policy_id,
                e.c.policy_version,
                stage.label("stage"),
                london_date(first_in).label("started"),
                london_date(e.c.occurred_at).label("ended"),
            )
            .where(*where)
            .cte("stage_rows")
            .prefix_with("MATERIALIZED")  # each row's start looked up once, not again for the GROUP BY
        )
        keys = [rows.c.policy_id, rows.c.policy_version, rows.c.stage, rows.c.started, rows.c.ended]
        return self._rows(sa.select(*keys, sa.func.count()).group_by(*keys))

    def acknowledgement_days(self, start: datetime, end: datetime) -> list[Any]:
        """First acknowledgements of a stage made in the period (a later one, a new handler, is not counted)."""
        e = events.alias("e")
        p = events.alias("p")
        earlier_s1 = _exists(
            p.c.case_id == e.c.case_id, p.c.seq < e.c.seq, p.c.name == "acknowledge", p.c.state_before.in_(S1_STATES)
        )
        first = sa.or_(e.c.state_before == "stage_2_requested", ~earlier_s1)
        stage = sa.case((e.c.state_before == "stage_2_requested", 2), else_=1)
        states = (*S1_STATES, "stage_2_requested")
        where = [e.c.name == "acknowledge", e.c.state_before.in_(states), e.c.occurred_at >= start,
                 e.c.occurred_at < end, first, *self._policy(e)]  # fmt: skip
        return self._stage_start_pairs(e, where, stage)

    def response_days(self, start: datetime, end: datetime) -> list[Any]:
        e = events.alias("e")
        return self._stage_start_pairs(e, self._responds(e, start, end), stage_of_state(e.c.state_before))

    # -- KPI counts -------------------------------------------------------------------

    def breaches(self, start: datetime, end: datetime) -> list[Any]:
        """(kind, count) of obligations that passed unmet in the period (windows are never breaches)."""
        query = sa.select(deadlines.c.kind, sa.func.count()).where(
            deadlines.c.status == "passed",
            deadlines.c.kind.not_in(sorted(WINDOWS)),
            deadlines.c.breach_at >= start,
            deadlines.c.breach_at < end,
            *self._only(deadlines.c.case_id),
        )
        if self.policy_id is not None:
            query = query.join_from(deadlines, cases, cases.c.id == deadlines.c.case_id).where(*self._policy(cases))
        return self._rows(query.group_by(deadlines.c.kind))

    def event_counts(self, start: datetime, end: datetime, name: str, states: Sequence[str]) -> list[Any]:
        """(stage of the state it left, count) of one event from ``states`` in the period."""
        before = events.c.state_before
        stage = sa.case((before.in_(S2_STATES), 2), (before.in_(S1_STATES), 1), else_=0).label("stage")
        query = (
            sa.select(stage, sa.func.count())
            .where(events.c.name == name, before.in_(states), events.c.occurred_at >= start, events.c.occurred_at < end)
            .where(*self._policy(events))
            .group_by(stage)
        )
        return self._rows(query)

    def open_cases(self, at: datetime) -> list[Any]:
        """(policy_id, policy_version, state, opened local date, count) of cases open at ``at``.

        A case last written before ``at`` is in its stored state then; one written since is in the
        state after its last event that occurred before ``at``.
        """
        opened = london_date(cases.c.opened_at).label("opened")
        settled = (
            sa.select(cases.c.policy_id, cases.c.policy_version, cases.c.state, opened, sa.func.count())
            .where(cases.c.state.in_(OPEN_STATES), cases.c.updated_at < at, *self._policy(cases))
            .group_by(cases.c.state, cases.c.policy_id, cases.c.policy_version, opened)
        )
        last = (
            sa.select(events.c.case_id, sa.func.max(events.c.seq).label("seq"))
            .join_from(events, cases, cases.c.id == events.c.case_id)
            .where(cases.c.updated_at >= at, cases.c.opened_at < at, events.c.occurred_at < at, *self._policy(cases))
            .group_by(events.c.case_id)
            .subquery()
        )
        state = events.c.state_after
        moved = (
            sa.select(cases.c.policy_id, cases.c.policy_version, state, opened, sa.func.count())
            .select_from(
                last.join(events, sa.and_(events.c.case_id == last.c.case_id, events.c.seq == last.c.seq)).join(
                    cases, cases.c.id == last.c.case_id
                )
            )
            .where(state.in_(OPEN_STATES))
            .group_by(state, cases.c.policy_id, cases.c.policy_version, opened)
        )
        return self._rows(settled) + self._rows(moved)
