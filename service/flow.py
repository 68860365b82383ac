"""The process map of stored histories: the query behind ``complaints diagram --flow`` and ``/reports/flow.svg``.

Counts come from the database grouped; the median working days a case spent
in a state before each move is counted here with the case's policy calendar
(bank holidays and the policy's closure days), which SQL cannot do.

What the map shows is a ``FlowTally``: counts per transition and, per
transition, how many moves took each number of working days, with the
``StoreMark`` of the events it covered. Events are only ever appended, so a
tally is brought up to date by adding the counts of the events committed after
its mark (``FlowTally.since``, the console's first view after a write), equal to
counting the whole store again (tests/integration/test_flow_fold.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from service.reports import WorkingDayCounts
from storage.flow_queries import Cohort, StateChanges, case_count, state_change_days, transition_counts
from storage.store_mark import StoreMark, read_mark, snapshot
from storage.unit_of_work import UnitOfWorkFactory
from workflow.calendar import WorkingCalendar, start_of_local_day
from workflow.catalog import Catalog
from workflow.diagrams import Diagram
from workflow.diagrams.overlays import FlowStep, flow_diagram
from workflow.errors import ComplaintsError, UnknownPolicy
from workflow.policy import Policy


class BadPeriod(ComplaintsError):
    code = "invalid_period"


@dataclass(frozen=True)
class Flow:
    """What the process map shows, before drawing."""

    policy: str
    since: date | None
    until: date | None
    cases: int
    steps: tuple[FlowStep, ...]

    @property
    def period(self) -> str:
        start = self.since.isoformat() if self.since else "the start"
        end = self.until.isoformat() if self.until else "now"
        return f"from {start} to {end}"

    def diagram(self) -> Diagram:
        title = f"process map: {self.policy}, cases received {self.period}"
        return flow_diagram(f"flow {self.policy}", title, self.steps, self.cases, self.period)


def parse_day(text: str | None, name: str) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(f"--{name} {text!r} is not an ISO date (YYYY-MM-DD)") from None


def _calendar(catalog: Catalog, chosen: Policy, version: int) -> WorkingCalendar:
    """The calendar of the version a case ran under (a version no longer shipped counts with the chosen one's)."""
    try:
        return catalog.get(chosen.id, version).calendar
    except UnknownPolicy:
        return chosen.calendar


Move = tuple[str, str, str]  # (source, target, event name)
Transition = tuple[str, str, str, str | None]  # a move and, for deadline_passed, the deadline kind


def _working_days(catalog: Catalog, chosen: Policy, changes: list[StateChanges]) -> dict[Move, dict[int, int]]:
    """{move: {working days from entering the state to leaving it: how many moves}}, with the version's calendar.

    One prefix count per calendar over the dates the moves span (``WorkingDayCounts``, the reports' own),
    the same figure as ``WorkingCalendar.working_days_between`` for each pair.
    """
    spans: dict[int, list[date]] = defaultdict(list)
    for c in changes:
        spans[c.policy_version] += (c.entered_on, c.left_on)
    counters = {v: WorkingDayCounts(_calendar(catalog, chosen, v), days) for v, days in spans.items()}
    durations: dict[Move, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for c in changes:
        durations[(c.source, c.target, c.name)][counters[c.policy_version].between(c.entered_on, c.left_on)] += c.count
    return durations


def median(counts: Mapping[int, int]) -> float | None:
    """``statistics.median`` of the values given as {value: how many}, as a float (None when there are none)."""
    ordered = sorted((v, n) for v, n in counts.items() if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    wanted = [total // 2] if total % 2 else [total // 2 - 1, total // 2]  # 0-based positions in sorted order
    picked, seen = [], 0
    for value, n in ordered:
        while wanted and wanted[0] < seen + n:
            picked.append(value)
            wanted.pop(0)
        seen += n
    return float(sum(picked) / len(picked))


@dataclass(frozen=True)
class FlowTally:
    """The counts behind a process map, and the mark of the events they cover (shared: never changed)."""

    chosen: Policy
    ref: str  # the policy as the map names it: ``id`` or ``id@v``
    cohort: Cohort
    since: date | None
    until: date | None
    mark: StoreMark
    cases: int
    counts: Mapping[Transition, int]
    days: Mapping[Move, Mapping[int, int]]

    def flow(self) -> Flow:
        steps = []
        for (source, target, name, kind), count in sorted(
            self.counts.items(), key=lambda kv: (*kv[0][:3], kv[0][3] is not None, kv[0][3] or "")
        ):
            spent = self.days.get((source, target, name)) if source != target else None
            steps.append(FlowStep(source, target, name, kind, count, median(spent) if spent else None))
        return Flow(self.ref, self.since, self.until, self.cases, tuple(steps))

    def updated(self, engine: Engine, catalog: Catalog) -> FlowTally:
        """This tally with the events committed after its mark added: the same as ``tally`` afresh."""
        with snapshot(engine) as connection:
            mark = read_mark(connection)
            if mark == self.mark:
                return self
            counts = transition_counts(connection, self.cohort, self.mark)
            cases = case_count(connection, self.cohort, self.mark)
            changes = state_change_days(connection, self.cohort, self.mark)
        merged = dict(self.counts)
        for c in counts:
            merged[(c.source, c.target, c.name, c.kind)] = merged.get((c.source, c.target, c.name, c.kind), 0) + c.count
        days = dict(self.days)
        for move, spent in _working_days(catalog, self.chosen, changes).items():
            together = dict(days.get(move, {}))
            for value, n in spent.items():
                together[value] = together.get(value, 0) + n
            days[move] = together
        return FlowTally(self.chosen, self.ref, self.cohort, self.since, self.until, mark, self.cases + cases,
                         merged, days)  # fmt: skip


def tally(
    engine: Engine, catalog: Catalog, policy_ref: str, since: date | None = None, until: date | None = None
) -> FlowTally:
    """Every transition the cases of ``policy_ref`` (``id``: all versions; ``id@v``: one) received in the period made.

    ``since`` and ``until`` are local (Europe/London) dates, both included.
    """
    if since and until and until < since:
        raise BadPeriod(f"until {until} is before since {since}")
    policy_id, _, version_text = policy_ref.partition("@")
    chosen = catalog.resolve(policy_ref)  # UnknownPolicy for a bad id or version
    version = chosen.version if version_text else None
    cohort = Cohort(
        policy_id,
        version,
        start_of_local_day(since) if since else None,
        start_of_local_day(until + timedelta(days=1)) if until else None,
    )
    with snapshot(engine) as connection:
        mark = read_mark(connection)
        counts = transition_counts(connection, cohort)
        cases = case_count(connection, cohort)
        changes = state_change_days(connection, cohort)
    ref = chosen.ref if version_text else chosen.id
    days = {move: dict(spent) for move, spent in _working_days(catalog, chosen, changes).items()}
    return FlowTally(chosen, ref, cohort, since, until, mark, cases,
                     {(c.source, c.target, c.name, c.kind): c.count for c in counts}, days)  # fmt: skip


def process_flow(
    uow: UnitOfWorkFactory, catalog: Catalog, policy_ref: str, since: date | None = None, until: date | None = None
) -> Flow:
    """The process map of ``tally``, counted afresh."""
    return tally(uow.engine, catalog, policy_ref, since, until).flow()
