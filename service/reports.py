"""Reports: the regulator's TSM complaint measures (CH01, CH02), monthly KPIs, and the Code self-assessment.

The counting rules are in docs/analysts.md ("Counting rules"). The database does the
counting (``storage.report_queries``); this module turns its grouped rows into
figures: it picks the reporting period, counts working days on grouped date
pairs, and checks against the Code the few responses whose policy allows dates
the Code does not (a policy with no extension cap, or a response clock longer
than the Code's), which are the only rows it reads one by one.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Connection, Engine

from service import report_months
from storage.report_months import MonthQueries
from storage.report_queries import S1_STATES, S2_STATES, ReportQueries, as_date
from workflow.calendar import Duration, WorkingCalendar, local_date, start_of_local_day
from workflow.catalog import Catalog
from workflow.errors import ComplaintsError, UnknownPolicy
from workflow.lint import LintResult, extension_within_code, lint, response_within_code
from workflow.policy import Policy

CODE_POLICY = "code_2024"
AGE_BUCKETS: tuple[tuple[str, int], ...] = (("0-5", 5), ("6-10", 10), ("11-20", 20), ("21-40", 40), ("41+", 10**9))


class InvalidReportRequest(ComplaintsError):
    """A report asked for with a bad year, month, home count or policy."""

    code = "invalid_data"


def reporting_year(year: int) -> tuple[datetime, datetime]:
    """1 April ``year`` to 31 March ``year + 1``, as London-midnight instants [start, end)."""
    if not isinstance(year, int) or not 2000 <= year <= 2200:
        raise InvalidReportRequest(f"year must be a whole number from 2000 to 2200, got {year!r}")
    return start_of_local_day(date(year, 4, 1)), start_of_local_day(date(year + 1, 4, 1))


def _check_homes(homes: Any) -> None:
    if not isinstance(homes, int) or isinstance(homes, bool) or homes < 1:
        raise InvalidReportRequest(f"homes must be a whole number of at least 1, got {homes!r}")


def calendar_month(month: str) -> tuple[datetime, datetime]:
    match = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2200:
        raise InvalidReportRequest(f"month must be YYYY-MM (2000-01 to 2200-12), got {month!r}")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return start_of_local_day(first), start_of_local_day(following)


def nearest_rank(counts: Iterable[tuple[int, int]], percent: float) -> int | None:
    """The nearest-rank percentile of values given as (value, how many)."""
    ordered = sorted((v, n) for v, n in counts if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    rank = max(1, math.ceil(percent / 100 * total))
    seen = 0
    for value, n in ordered:
        seen += n
        if seen >= rank:
            return value
    return ordered[-1][0]


@lru_cache(maxsize=65536)
def add(calendar: WorkingCalendar, day: date, duration: Duration) -> date:
    return calendar.add(day, duration)


def share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


class WorkingDayCounts:
    """Working days between many date pairs of one calendar, by prefix counts over the span they cover."""

    def __init__(self, calendar: WorkingCalendar, days: Iterable[date]) -> None:
        days = list(days)
        self.calendar = calendar
        self.first = min(days, default=date.today())
        last = max(days, default=self.first)
        self.counts = [0]
        day = self.first
        while day < last:
            day += timedelta(days=1)
            self.counts.append(self.counts[-1] + calendar.is_working_day(day))

    def between(self, start: date, end: date) -> int:
        """As ``WorkingCalendar.working_days_between``: after ``start``, up to and including ``end``."""
        if end <= start:
            return 0
        return self.counts[(end - self.first).days] - self.counts[(start - self.first).days]


# A report's counts before they become figures: each a Counter of (grouped row key -> count), so the counts of
# two disjoint sets of cases add up (``add_parts``) to the counts of both: the console adds the cases new since it
# counted (api/console/routes_reports.py). The responses' keys are (stage, ISSUED) and (stage, WITHIN).
Parts = dict[str, Counter[Any]]
ISSUED, WITHIN = 0, 1


def add_parts(kept: Parts, more: Parts) -> Parts:
    """The counts of two disjoint sets of cases together (new Counters: kept values are shared)."""
    return {name: kept[name] + more[name] for name in kept}


Step = Callable[[int, int], None]  # steps done, steps in all: a report's progress (complaints report)


class ReportService:
    def __init__(self, engine: Engine, catalog: Catalog, on_step: Step | None = None) -> None:
        """``on_step`` hears of each query done (done, total), so a long report over a big store shows progress."""
        self.engine, self.catalog, self.on_step = engine, catalog, on_step
        self._done = self._total = 0

    def _begin(self, queries: int, policy_id: str | None = None) -> None:
        """A report's steps: its ``queries``, then two Code checks (stage 1, 2) per policy in scope."""
        checks = sum(1 for p in self.catalog.all() if policy_id is None or p.id == policy_id)
        self._done, self._total = 0, queries + 2 * checks

    def _step(self) -> None:
        self._done += 1
        if self.on_step is not None:
            self._total = max(self._total, self._done)
            self.on_step(self._done, self._total)

    @contextmanager
    def _connect(self, connection: Connection | None) -> Iterator[Connection]:
        """``connection`` as it is (the caller's snapshot), or a connection of our own."""
        if connection is not None:
            yield connection
            return
        with self.engine.connect() as own:
            yield own

    @property
    def code(self) -> Policy:
        return self.catalog.get(CODE_POLICY)

    # -- the Code self-assessment --------------------------------------------------

    def lint(self, ref: str) -> LintResult:
        return lint(self.catalog.resolve(ref), self.code)

    # -- TSM ------------------------------------------------------------------------

    def tsm(self, year: int, homes: int) -> dict[str, Any]:
        _check_homes(homes)
        return self.tsm_figures(year, homes, self.tsm_parts(year))

    def tsm_parts(self, year: int, only: Sequence[str] | None = None, connection: Connection | None = None) -> Parts:
        """The TSM's counts for ``year`` (of ``only``'s cases; on ``connection``): see ``Parts``."""
        start, end = reporting_year(year)
        self._begin(2)
        with self._connect(connection) as c:
            q = ReportQueries(c, only=only)
            received = Counter({row.stage: row.n for row in q.received(start, end)})
            self._step()
            return {"received": received, "responses": self._responses(q, start, end)}

    def tsm_figures(self, year: int, homes: int, parts: Parts) -> dict[str, Any]:
        _check_homes(homes)
        received, responses = parts["received"], parts["responses"]
        ch01 = {
            f"stage_{s}": {"received": n, "per_1000_homes": round(1000 * n / homes, 2)}
            for s, n in ((s, received[s]) for s in (1, 2))
        }
        ch02 = {
            f"stage_{s}": {"responded": n, "within_timescale": k, "percent": share(k, n)}
            for s, (n, k) in ((s, (responses[s, ISSUED], responses[s, WITHIN])) for s in (1, 2))
        }
        period = {"from": date(year, 4, 1).isoformat(), "to": date(year + 1, 3, 31).isoformat()}
        return {"report": "tsm", "year": f"{year}/{(year + 1) % 100:02d}", "period": period, "homes": homes,
                "CH01": ch01, "CH02": ch02}  # fmt: skip

    # -- monthly KPIs ---------------------------------------------------------------------

    def kpi(self, month: str, policy: str | None = None) -> dict[str, Any]:
        return self.kpi_figures(month, policy, self.kpi_parts(month, policy))

    def kpi_parts(
        self, month: str, policy: str | None, only: Sequence[str] | None = None, connection: Connection | None = None
    ) -> Parts:
        """The KPI report's counts for ``month`` (of ``only``'s cases; on ``connection``): see ``Parts``."""
        start, end = calendar_month(month)
        policy_id, version = self._policy_filter(policy)
        self._begin(8, policy_id)
        with self._connect(connection) as c:
            q = ReportQueries(c, policy_id, version, only)
            parts: Parts = {"channels": Counter({(row.stage, row.channel): row.n
                                                 for row in q.received(start, end, by_channel=True)})}  # fmt: skip
            self._step()
            parts["responses"] = self._responses(q, start, end)
            for name, rows in (("ack", q.acknowledgement_days), ("respond", q.response_days)):
                parts[name] = Counter()
                for *key, n in rows(start, end):
                    parts[name][tuple(key)] += n
                self._step()
            parts["breaches"] = Counter(dict(q.breaches(start, end)))
            self._step()
            parts["extensions"] = Counter(dict(q.event_counts(start, end, "extend", S1_STATES + S2_STATES)))
            self._step()
            parts["referrals"] = Counter(dict(q.event_counts(start, end, "refer_to_ombudsman", ("closed",))))
            self._step()
            parts["open"] = Counter()
            for *key, n in q.open_cases(end):
                parts["open"][tuple(key)] += n
            self._step()
        return parts

    def kpi_figures(self, month: str, policy: str | None, parts: Parts) -> dict[str, Any]:
        last_day = local_date(calendar_month(month)[1]) - timedelta(days=1)
        received: dict[int, int] = defaultdict(int)
        channels: dict[str, dict[str, int]] = defaultdict(dict)
        for (stage, channel), n in parts["channels"].items():
            received[stage] += n
            channels[f"stage_{stage}"][channel] = n
        responses = {s: (parts["responses"][s, ISSUED], parts["responses"][s, WITHIN]) for s in (1, 2)}
        stage_1_responses = responses[1][0]
        extensions = parts["extensions"]
        return {
            "report": "kpi",
            "month": month,
            "policy": policy,
            "received": {f"stage_{s}": received.get(s, 0) for s in (0, 1, 2)},
            "received_by_channel": {k: dict(sorted(v.items())) for k, v in sorted(channels.items())},
            "responses": {
                f"stage_{s}": {"responded": n, "within_timescale": k, "percent": share(k, n)}
                for s, (n, k) in responses.items()
            },
            "working_days_to_acknowledge": self._spread([(*k, n) for k, n in parts["ack"].items()]),
            "working_days_to_respond": self._spread([(*k, n) for k, n in parts["respond"].items()]),
            "breaches": dict(sorted(parts["breaches"].items())),
            "extensions": {f"stage_{s}": extensions[s] for s in (1, 2)},
            "escalation": {
                "requests": received.get(2, 0),
                "stage_1_responses": stage_1_responses,
                "percent": share(received.get(2, 0), stage_1_responses),
            },
            "open_cases": self._ages([(*k, n) for k, n in parts["open"].items()], last_day),
            "ombudsman_referrals": sum(parts["referrals"].values()),
        }

    def monthly(
        self,
        months: list[str],
        policy: str | None = None,
        only: Sequence[str] | None = None,
        connection: Connection | None = None,
    ) -> list[tuple[str, int, int, int]]:
        """(month, received, responded within the Code's timescales, breaches) per month: the KPI report's own
        figures for each month, without its day counts and ages, one grouped query per figure
        (``service.report_months``); of ``only``'s cases, on ``connection``, as ``kpi_parts``."""
        spans = [calendar_month(m) for m in months]
        if any(a[1] != b[0] for a, b in zip(spans, spans[1:], strict=False)):  # not consecutive: one by one
            return [row for m in months for row in self.monthly([m], policy, only, connection)]
        policy_id, version = self._policy_filter(policy)
        with self._connect(connection) as c:
            q = MonthQueries(c, policy_id, version, only)
            figures = report_months.monthly(q, spans, self.catalog, self.code, self._code_limit)
        return [(m, *row) for m, row in zip(months, figures, strict=True)]

    def _policy_filter(self, policy: str | None) -> tuple[str | None, int | None]:
        if policy is None:
            return None, None
        chosen = self.catalog.resolve(policy)  # UnknownPolicy for a policy this service does not know
        return chosen.id, chosen.version if "@" in policy else None

    def _calendar_of(self, policy_id: str, version: int) -> WorkingCalendar:
        try:
            return self.catalog.get(policy_id, version).calendar
        except UnknownPolicy:
            return self.code.calendar  # a case under a policy this process lacks: England and Wales working days

    def _counters(self, rows: list[tuple[str, int, date, date]]) -> dict[tuple[str, int], WorkingDayCounts]:
        """One prefix count per policy calendar over the dates its rows use."""
        spans: dict[tuple[str, int], list[date]] = defaultdict(list)
        for pid, version, a, b in rows:
            spans[(pid, version)] += [a, b]
        return {key: WorkingDayCounts(self._calendar_of(*key), days) for key, days in spans.items()}

    def _spread(self, pairs: list[Any]) -> dict[str, Any]:
        """Median and 90th percentile of working days from the stage's start, per stage."""
        rows = [(pid, v, stage, as_date(a), as_date(b), n) for pid, v, stage, a, b, n in pairs]
        counters = self._counters([(pid, v, a, b) for pid, v, _, a, b, _ in rows])
        per_stage: dict[int, dict[int, int]] = {1: defaultdict(int), 2: defaultdict(int)}
        for pid, version, stage, started, ended, n in rows:
            per_stage[stage][counters[(pid, version)].between(started, ended)] += n
        return {
            f"stage_{s}": {
                "count": sum(values.values()),
                "median": nearest_rank(values.items(), 50),
                "p90": nearest_rank(values.items(), 90),
            }
            for s, values in per_stage.items()
        }

    def _ages(self, rows: list[Any], last_day: date) -> dict[str, Any]:
        parsed = [(pid, v, state, as_date(opened), n) for pid, v, state, opened, n in rows]
        counters = self._counters([(pid, v, opened, last_day) for pid, v, _, opened, _ in parsed])
        by_state: dict[str, dict[str, int]] = defaultdict(lambda: {name: 0 for name, _ in AGE_BUCKETS})
        for pid, version, state, opened, n in parsed:
            age = counters[(pid, version)].between(opened, last_day)
            bucket = next(name for name, top in AGE_BUCKETS if age <= top)
            by_state[state][bucket] += n
        total = sum(sum(b.values()) for b in by_state.values())
        return {"as_of": last_day.isoformat(), "age_in_working_days": dict(sorted(by_state.items())), "total": total}

    # -- CH02: responses within the Code's timescales ------------------------------------------

    def _responses(self, q: ReportQueries, start: datetime, end: datetime) -> Counter[tuple[int, int]]:
        """{(stage, ISSUED): responses issued, (stage, WITHIN): responses within the Code's timescales}."""
        counts = q.responses(start, end)
        self._step()
        code = self.code
        on_time = {stage: issued - late for stage, (issued, late) in counts.items()}
        for policy in self.catalog.all():
            if q.policy_id is not None and policy.id != q.policy_id:
                continue
            for stage in (1, 2):
                if policy.version != (q.version or policy.version):
                    self._step()
                    continue
                base_ok = response_within_code(policy, code, stage)
                if counts[stage][0] and (not base_ok or not extension_within_code(policy, code, stage)):
                    on_time[stage] -= self._late_by_code(q, start, end, policy, stage, extended_only=base_ok)
                self._step()
        return Counter({(s, ISSUED): counts[s][0] for s in (1, 2)} | {(s, WITHIN): on_time[s] for s in (1, 2)})

    def _late_by_code(
        self, q: ReportQueries, start: datetime, end: datetime, policy: Policy, stage: int, extended_only: bool
    ) -> int:
        """How many responses on time by the policy's own dates missed the Code's."""
        rows = q.on_time_responses(start, end, policy.id, policy.version, stage, extended_only)
        return sum(1 for row in rows if row.met_due is not None and local_date(row.occurred_at) > self._code_limit(
            policy, stage, row))  # fmt: skip

    def _code_limit(self, policy: Policy, stage: int, row: Any) -> date:
        """The last day the Code allows for this response, given the policy's date it met."""
        code, cal = self.code.stage(stage), policy.calendar
        started = local_date(row.started)
        if code.response_from == "acknowledgement":
            first_ack = row.first_ack
            anchor = local_date(first_ack) if first_ack else add(cal, started, code.acknowledgement)
        else:
            anchor = started
        met_due = as_date(row.met_due)
        original = as_date(row.original_due) if row.original_due is not None else met_due
        if not response_within_code(policy, self.code, stage):
            original = min(original, add(cal, anchor, code.response))
        if row.opener != "extend":
            return min(met_due, original)
        if (row.opener_data or {}).get("good_reason") is True or code.extension_cap is None:
            return met_due
        return min(met_due, add(cal, original, code.extension_cap))
