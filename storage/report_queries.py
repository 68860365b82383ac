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
from datetime import UTC, date, datetime
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
ACK_KINDS = ("stage_1_acknowledgement", "stage_2_acknowledgement")


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
    if stored is None:
        return None
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone(LONDON).date().isoformat()


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# --- which events are what -----------------------------------------------------


def stage_1_received(e: Any) -> Any:
    """A stage 1 complaint comes in: formal receipt, going formal, or an informal breach that moves the case."""
    return sa.or_(
        sa.and_(e.c.name == "receive", e.c.state_after == "stage_1"),
        e.c.name == "log_formal",
        sa.and_(e.c.name == "deadline_passed", e.c.state_before == "stage_0", e.c.state_after == "stage_1"),
    )


def stage_of_received(e: Any) -> Any:
    return sa.case(
        (e.c.name == "request_escalation", 2),
        (stage_1_received(e), 1),
        (sa.and_(e.c.name == "receive", e.c.state_after == "stage_0"), 0),
        else_=None,
    )


def stage_of_state(column: Any) -> Any:
    return sa.case((column.in_(S1_STATES), 1), (column.in_(S2_STATES), 2), else_=None)


class ReportQueries:
    """Aggregates over ``[start, end)`` (aware instants), optionally for one policy (``id`` or id and version)."""

    def __init__(self, connection: sa.Connection, policy_id: str | None = None, version: int | None = None) -> None:
        self.connection = connection
        self.policy_id, self.version = policy_id, version
        if connection.dialect.name == "sqlite":
            raw = connection.connection.driver_connection
            raw.create_function("london_date", 1, _london_udf, deterministic=True)  # type: ignore[union-attr]

    # -- helpers ---------------------------------------------------------------

    def _policy(self, table: Any) -> list[Any]:
        out = []
        if self.policy_id is not None:
            out.append(table.c.policy_id == self.policy_id)
        if self.version is not None:
            out.append(table.c.policy_version == self.version)
        return out

    def _rows(self, query: Any) -> list[Any]:
        return list(self.connection.execute(query).all())

    # -- received --------------------------------------------------------------

    def received(self, start: datetime, end: datetime, by_channel: bool = False) -> list[Any]:
        """(stage[, channel], count) of complaints that came in: stage 0, 1 and 2 (escalation requests)."""
        e = events.alias("e")
        stage = stage_of_received(e).label("stage")
        columns: list[Any] = [stage]
        query = sa.select().select_from(e)
        if by_channel:
            r = events.alias("r")  # the receive event (seq 1) carries the channel
            channel = sa.func.coalesce(r.c.data["channel"].as_string(), "unknown").label("channel")
            columns.append(channel)
            query = query.select_from(e.join(r, sa.and_(r.c.case_id == e.c.case_id, r.c.seq == 1)))
        query = (
            query.add_columns(*columns, sa.func.count().label("n"))
            .where(e.c.occurred_at >= start, e.c.occurred_at < end, e.c.name.in_(_RECEIVED_NAMES), *self._policy(e))
            .where(stage.is_not(None))
            .group_by(*columns)
        )
        return self._rows(query)

    # -- responses (CH02, KPI) -----------------------------------------------------

    def _response_flags(self, e: Any) -> tuple[Any, Any, Any]:
        """Per respond event: on time by its policy; the met deadline's number; the opener of that deadline."""
        stage = stage_of_state(e.c.state_before)
        d = deadlines.alias("d")
        kind_of_stage = sa.and_(d.c.case_id == e.c.case_id, d.c.kind.in_(RESPONSE_KINDS), d.c.stage == stage)
        passed = sa.exists().where(kind_of_stage, d.c.status == "passed")
        opened_before = sa.exists().where(kind_of_stage, d.c.opened_seq < e.c.seq)
        m = deadlines.alias("m")
        met_number = (
            sa.select(m.c.number)
            .where(
                m.c.case_id == e.c.case_id,
                m.c.kind.in_(RESPONSE_KINDS),
                m.c.stage == stage,
                m.c.status == "met",
                m.c.closed_seq == e.c.seq,
            )
            .scalar_subquery()
        )
        on_time = sa.and_(~passed, sa.or_(met_number.is_not(None), ~opened_before))
        o = events.alias("o")
        m2 = deadlines.alias("m2")
        extended = sa.exists().where(
            m2.c.case_id == e.c.case_id,
            m2.c.kind.in_(RESPONSE_KINDS),
            m2.c.stage == stage,
            m2.c.status == "met",
            m2.c.closed_seq == e.c.seq,
            o.c.case_id == e.c.case_id,
            o.c.seq == m2.c.opened_seq,
            o.c.name == "extend",
        )
        return on_time, met_number, extended

    def _responds(self, e: Any, start: datetime, end: datetime) -> list[Any]:
        return [
            e.c.name == "respond",
            e.c.occurred_at >= start,
            e.c.occurred_at < end,
            e.c.state_before.in_((*S1_STATES, *S2_STATES)),
            *self._policy(e),
        ]

    def responses(self, start: datetime, end: datetime) -> list[Any]:
        """Per (policy_id, policy_version, stage): responses issued; on time by the policy; of those, extended."""
        e = events.alias("e")
        on_time, _met, extended = self._response_flags(e)
        stage = stage_of_state(e.c.state_before)
        one = sa.literal(1)
        query = (
            sa.select(
                e.c.policy_id,
                e.c.policy_version,
                stage.label("stage"),
                sa.func.count().label("responded"),
                sa.func.sum(sa.case((on_time, one), else_=0)).label("on_time"),
                sa.func.sum(sa.case((sa.and_(on_time, extended), one), else_=0)).label("on_time_extended"),
            )
            .where(*self._responds(e, start, end))
            .group_by(e.c.policy_id, e.c.policy_version, stage)
        )
        return self._rows(query)

    def on_time_responses(
        self, start: datetime, end: datetime, policy_id: str, version: int, stage: int, extended_only: bool
    ) -> list[Any]:
        """The responses of one policy version and stage that its own dates call on time, to check against the Code.

        Rows: case_id, occurred_at (the respond), met_number (None: no response date had started).
        """
        e = events.alias("e")
        on_time, met_number, extended = self._response_flags(e)
        query = sa.select(e.c.case_id, e.c.occurred_at, met_number.label("met_number")).where(
            *self._responds(e, start, end),
            e.c.policy_id == policy_id,
            e.c.policy_version == version,
            stage_of_state(e.c.state_before) == stage,
            on_time,
        )
        if extended_only:
            query = query.where(extended)
        return self._rows(query)

    def snapshots(self, case_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(case_ids), 500):
            chunk = list(case_ids[i : i + 500])
            for row in self.connection.execute(sa.select(cases.c.id, cases.c.snapshot).where(cases.c.id.in_(chunk))):
                out[row.id] = row.snapshot
        return out

    def histories(self, case_ids: Sequence[str]) -> dict[str, list[Any]]:
        """The event rows of a few cases, in order (for the responses checked one by one against the Code)."""
        out: dict[str, list[Any]] = {case_id: [] for case_id in case_ids}
        for i in range(0, len(case_ids), 500):
            query = sa.select(events).where(events.c.case_id.in_(list(case_ids[i : i + 500]))).order_by(events.c.seq)
            for row in self.connection.execute(query):
                out[row.case_id].append(row)
        return out

    # -- KPI durations: (policy, stage, start date, end date, count) ---------------

    def _stage_start_pairs(self, e: Any, where: Iterable[Any], stage: Any) -> list[Any]:
        """Group ``e`` by the local date of the event that opened its stage's acknowledgement and its own."""
        a = deadlines.alias("a")
        o = events.alias("o")
        ack_kind = sa.case((stage == 1, ACK_KINDS[0]), else_=ACK_KINDS[1])
        started = london_date(o.c.occurred_at).label("started")
        ended = london_date(e.c.occurred_at).label("ended")
        query = (
            sa.select(e.c.policy_id, e.c.policy_version, stage.label("stage"), started, ended, sa.func.count())
            .select_from(
                e.join(a, sa.and_(a.c.case_id == e.c.case_id, a.c.kind == ack_kind)).join(
                    o, sa.and_(o.c.case_id == a.c.case_id, o.c.seq == a.c.opened_seq)
                )
            )
            .where(*where)
            .group_by(e.c.policy_id, e.c.policy_version, stage, started, ended)
        )
        return self._rows(query)

    def acknowledgement_days(self, start: datetime, end: datetime) -> list[Any]:
        """First acknowledgements of a stage made in the period (a later one, a new handler, is not counted)."""
        e = events.alias("e")
        p = events.alias("p")
        earlier_s1 = sa.exists().where(
            p.c.case_id == e.c.case_id, p.c.seq < e.c.seq, p.c.name == "acknowledge", p.c.state_before.in_(S1_STATES)
        )
        first = sa.or_(e.c.state_before == "stage_2_requested", sa.and_(e.c.state_before.in_(S1_STATES), ~earlier_s1))
        stage = sa.case((e.c.state_before == "stage_2_requested", 2), else_=1)
        where = [e.c.name == "acknowledge", e.c.occurred_at >= start, e.c.occurred_at < end, first, *self._policy(e)]
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
        )
        if self.policy_id is not None:
            query = query.join_from(deadlines, cases, cases.c.id == deadlines.c.case_id).where(*self._policy(cases))
        return self._rows(query.group_by(deadlines.c.kind))

    def event_counts(self, start: datetime, end: datetime, name: str) -> list[Any]:
        """(stage of the state it left, count) of one event in the period."""
        before = events.c.state_before
        stage = sa.case((before.in_(S2_STATES), 2), (before.in_(S1_STATES), 1), else_=0).label("stage")
        query = (
            sa.select(stage, sa.func.count())
            .where(events.c.name == name, events.c.occurred_at >= start, events.c.occurred_at < end)
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
            .where(cases.c.updated_at < at, cases.c.state.in_(OPEN_STATES), *self._policy(cases))
            .group_by(cases.c.policy_id, cases.c.policy_version, cases.c.state, opened)
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
            .group_by(cases.c.policy_id, cases.c.policy_version, state, opened)
        )
        return self._rows(settled) + self._rows(moved)


_RECEIVED_NAMES = ("receive", "log_formal", "deadline_passed", "request_escalation")
