"""The process map of stored histories: the query behind ``complaints diagram --flow`` and ``/reports/flow.svg``.

Counts come from the database grouped; the median working days a case spent
in a state before each move is counted here with the case's policy calendar
(bank holidays and the policy's closure days), which SQL cannot do.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from service.reports import WorkingDayCounts
from storage.flow_queries import Cohort, StateChanges, case_count, state_change_days, transition_counts
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


def _working_days(
    catalog: Catalog, chosen: Policy, changes: list[StateChanges]
) -> dict[tuple[str, str, str], list[int]]:
    """Working days from entering a state to leaving it, per move, counted with the version's calendar.

    One prefix count per calendar over the dates the moves span (``WorkingDayCounts``, the reports' own),
    the same figure as ``WorkingCalendar.working_days_between`` for each pair.
    """
    spans: dict[int, list[date]] = defaultdict(list)
    for c in changes:
        spans[c.policy_version] += (c.entered_on, c.left_on)
    counters = {v: WorkingDayCounts(_calendar(catalog, chosen, v), days) for v, days in spans.items()}
    durations: dict[tuple[str, str, str], list[int]] = {}
    for c in changes:
        days = counters[c.policy_version].between(c.entered_on, c.left_on)
        durations.setdefault((c.source, c.target, c.name), []).extend([days] * c.count)
    return durations


def process_flow(
    uow: UnitOfWorkFactory, catalog: Catalog, policy_ref: str, since: date | None = None, until: date | None = None
) -> Flow:
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
    with uow(write=False) as unit:
        counts = transition_counts(unit.connection, cohort)
        cases = case_count(unit.connection, cohort)
        changes = state_change_days(unit.connection, cohort)
    durations = _working_days(catalog, chosen, changes)
    steps = []
    for c in counts:
        spent = durations.get((c.source, c.target, c.name))
        median = float(statistics.median(spent)) if spent and c.source != c.target else None
        steps.append(FlowStep(c.source, c.target, c.name, c.kind, c.count, median))
    return Flow(chosen.id if not version_text else chosen.ref, since, until, cases, tuple(steps))
