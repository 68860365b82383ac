"""TSM and monthly KPIs over a generated year of cases, against answers the test works out itself.

Cases are driven through the real service (ComplaintService, a ManualClock,
SQLite and PostgreSQL). Each case follows a plan whose outcome is known by
construction (a response 4 days after the acknowledgement is on time, 44 days
after is late; a livin extension far beyond the Code's cap is late for CH02
unless it had a good reason). Expected figures come from the plans; the
states and breaches that timers produce are read from each case's own history
in Python. The report code is not used to compute any expected figure.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from api.bootstrap import Settings, bootstrap
from service.reports import ReportService
from workflow.calendar import WorkingCalendar, local_date, start_of_local_day
from workflow.clock import ManualClock

CAL = WorkingCalendar()
WINDOWS = {"escalation_window", "ombudsman_wait"}
OPEN = {"stage_0", "stage_1", "stage_1_extended", "stage_1_responded", "stage_2_requested", "stage_2"}
OPEN |= {"stage_2_extended"}
LETTER = {
    "decision": "upheld",
    "reasons": "because",
    "remedy": "apology",
    "outstanding_actions": "none",
    "escalation_route": "ask us",
    "ombudsman_info": "0300 111 3000",
}
CHANNELS = ("phone", "email", "web", "letter")


@dataclass
class Plan:
    policy: str
    received: datetime
    channel: str
    steps: list[tuple[int, str, dict[str, Any]]]
    # facts known by construction: (stage, instant) of complaints coming in; (stage, instant, on time) responses
    arrivals: list[tuple[int, datetime]] = field(default_factory=list)
    responses: list[tuple[int, datetime, bool]] = field(default_factory=list)
    acks: list[tuple[int, datetime, datetime]] = field(default_factory=list)  # stage, stage start, first ack
    extends: list[tuple[int, datetime]] = field(default_factory=list)
    referrals: list[datetime] = field(default_factory=list)
    case_id: str = ""


def at(plan: Plan, days: int) -> datetime:
    return plan.received + timedelta(days=days)


def ack(name: str = "Ann") -> dict[str, Any]:
    return {"handler": name, "handler_role": "officer", "complaint_definition": "the repair"}


def make_plan(kind: str, received: datetime, channel: str) -> Plan:
    plan = Plan(policy="code_2024", received=received, channel=channel, steps=[])
    s = plan.steps
    d = plan.received
    if kind in ("on_time", "late", "extended", "stage_2", "stage_2_late", "withdrawn", "unacknowledged"):
        plan.arrivals.append((1, d))
        if kind == "unacknowledged":
            return plan
        s.append((1, "acknowledge", ack()))
        plan.acks.append((1, d, at(plan, 1)))
        if kind == "withdrawn":
            s.append((3, "withdraw", {"summary": "no longer needed"}))
            return plan
        if kind == "extended":
            new_due = local_date(at(plan, 1)) + timedelta(days=21)
            extension = {"new_due": new_due.isoformat(), "reason": "survey", "ombudsman_details_given": True}
            s.append((6, "extend", extension))
            plan.extends.append((1, at(plan, 6)))
        respond_day = {"late": 45, "extended": 19}.get(kind, 5)
        s.append((respond_day, "respond", LETTER))
        plan.responses.append((1, at(plan, respond_day), kind != "late"))
        if kind.startswith("stage_2"):
            s.append((8, "request_escalation", {"requested_by": "customer"}))
            plan.arrivals.append((2, at(plan, 8)))
            s.append((10, "acknowledge", ack("Bob")))
            plan.acks.append((2, at(plan, 8), at(plan, 10)))
            respond_2 = 70 if kind == "stage_2_late" else 20
            s.append((respond_2, "respond", LETTER))
            plan.responses.append((2, at(plan, respond_2), kind == "stage_2"))
            s.append((respond_2 + 2, "refer_to_ombudsman", {}))
            plan.referrals.append(at(plan, respond_2 + 2))
        elif kind != "late":
            s.append((respond_day + 3, "close", {"summary": "satisfied"}))
        return plan
    if kind == "informal_resolved":
        plan.policy = "brighter_places"
        s.append((2, "resolve_informally", {"summary": "fixed"}))
        plan.arrivals.append((0, d))
        return plan
    if kind == "informal_breach":  # brighter_places: the informal breach moves the case to stage 1 (its logging)
        plan.policy = "brighter_places"
        plan.arrivals.append((0, d))
        moved = start_of_local_day(CAL.add_working_days(local_date(d), 5) + timedelta(days=1))
        plan.arrivals.append((1, moved))
        s.append((14, "acknowledge", ack()))
        plan.acks.append((1, moved, at(plan, 14)))
        s.append((16, "respond", LETTER))
        plan.responses.append((1, at(plan, 16), True))
        return plan
    if kind == "informal_formal":  # livin: the customer goes formal the next day
        plan.policy = "livin"
        plan.arrivals += [(0, d), (1, at(plan, 1))]
        s += [(1, "log_formal", {"requested_by": "customer"}), (2, "acknowledge", ack()), (6, "respond", LETTER)]
        plan.acks.append((1, at(plan, 1), at(plan, 2)))
        plan.responses.append((1, at(plan, 6), True))
        return plan
    # livin, formal, extended to 60 days: on time by livin's dates; for the Code only with a good reason
    plan.policy = "livin"
    plan.arrivals.append((1, d))
    s.append((1, "acknowledge", ack()))
    plan.acks.append((1, d, at(plan, 1)))
    good = kind == "livin_good_reason"
    new_due = (local_date(d) + timedelta(days=60)).isoformat()
    s.append((5, "extend", {"new_due": new_due, "reason": "contractor", "good_reason": good}))
    plan.extends.append((1, at(plan, 5)))
    s.append((50, "respond", LETTER))
    plan.responses.append((1, at(plan, 50), good))
    return plan


KINDS = (
    "on_time",
    "on_time",
    "late",
    "extended",
    "stage_2",
    "stage_2_late",
    "withdrawn",
    "unacknowledged",
    "informal_resolved",
    "informal_breach",
    "informal_formal",
    "livin_no_good_reason",
    "livin_good_reason",
)


def generate(db_url: str, count: int) -> tuple[ReportService, list[Plan], dict[str, list[Any]]]:
    rng = random.Random(20250401)
    first = datetime(2025, 2, 20, 10, tzinfo=UTC)
    plans = [
        make_plan(
            KINDS[i % len(KINDS)],
            first + timedelta(days=rng.randrange(0, 420), minutes=rng.randrange(0, 600)),
            rng.choice(CHANNELS),
        )
        for i in range(count)
    ]
    clock = ManualClock(first)
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    timeline = [(p.received, i, -1) for i, p in enumerate(plans)]
    timeline += [(at(p, step[0]), i, n) for i, p in enumerate(plans) for n, step in enumerate(p.steps)]
    for instant, i, n in sorted(timeline):
        plan = plans[i]
        clock.set(instant)
        if n < 0:
            formal = plan.policy == "code_2024" or plan.policy == "livin" and plan.arrivals[0][0] == 1
            data = {"incident_date": (local_date(instant) - timedelta(days=3)).isoformat(), "channel": plan.channel}
            plan.case_id = app.service.open_case(plan.policy, {**data, "formal": formal})["id"]
        else:
            _, event, data = plan.steps[n]
            app.service.apply(plan.case_id, event, data)
    clock.set(datetime(2026, 6, 30, tzinfo=UTC))
    app.service.fire_due()
    histories = {p.case_id: app.service.history(p.case_id) for p in plans}
    return ReportService(app.engine, app.catalog), plans, histories


def within(instant: datetime, start: datetime, end: datetime) -> bool:
    return start <= instant < end


def rank(values: list[int], percent: int) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def expected_tsm(plans: list[Plan], year: int, homes: int) -> dict[str, Any]:
    start, end = start_of_local_day(date(year, 4, 1)), start_of_local_day(date(year + 1, 4, 1))
    ch01, ch02 = {}, {}
    for stage in (1, 2):
        n = sum(1 for p in plans for s, t in p.arrivals if s == stage and within(t, start, end))
        ch01[f"stage_{stage}"] = {"received": n, "per_1000_homes": round(1000 * n / homes, 2)}
        answered = [ok for p in plans for s, t, ok in p.responses if s == stage and within(t, start, end)]
        k = sum(answered)
        ch02[f"stage_{stage}"] = {
            "responded": len(answered),
            "within_timescale": k,
            "percent": round(100 * k / len(answered), 1) if answered else None,
        }
    return {"CH01": ch01, "CH02": ch02}


def expected_kpi(plans: list[Plan], histories: dict[str, list[Any]], month: date) -> dict[str, Any]:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    start, end = start_of_local_day(month), start_of_local_day(following)
    last_day = following - timedelta(days=1)
    received: dict[int, int] = defaultdict(int)
    channels: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in plans:
        for stage, t in p.arrivals:
            if within(t, start, end):
                received[stage] += 1
                channels[f"stage_{stage}"][p.channel] += 1
    responses = {}
    for stage in (1, 2):
        answered = [ok for p in plans for s, t, ok in p.responses if s == stage and within(t, start, end)]
        responses[f"stage_{stage}"] = {
            "responded": len(answered),
            "within_timescale": sum(answered),
            "percent": round(100 * sum(answered) / len(answered), 1) if answered else None,
        }

    def spread(pairs: list[tuple[int, datetime, datetime]]) -> dict[str, Any]:
        out = {}
        for stage in (1, 2):
            days = [
                CAL.working_days_between(local_date(a), local_date(b))
                for s, a, b in pairs
                if s == stage and within(b, start, end)
            ]
            out[f"stage_{stage}"] = {"count": len(days), "median": rank(days, 50), "p90": rank(days, 90)}
        return out

    starts = {(id(p), s): a for p in plans for s, a in p.arrivals if s}
    respond_pairs = [(s, starts[(id(p), s)], t) for p in plans for s, t, _ in p.responses]
    breaches: dict[str, int] = defaultdict(int)
    ages: dict[str, dict[str, int]] = defaultdict(lambda: {"0-5": 0, "6-10": 0, "11-20": 0, "21-40": 0, "41+": 0})
    for p in plans:
        history = histories[p.case_id]
        for e in history:
            if e.name == "deadline_passed" and e.data["deadline"] not in WINDOWS and within(e.occurred_at, start, end):
                breaches[e.data["deadline"]] += 1
        before = [e for e in history if e.occurred_at < end]
        if before and before[-1].state_after in OPEN:
            age = CAL.working_days_between(local_date(p.received), last_day)
            bucket = "0-5" if age <= 5 else "6-10" if age <= 10 else "11-20" if age <= 20 else "21-40"
            ages[before[-1].state_after]["41+" if age > 40 else bucket] += 1
    escalations, s1_responses = received.get(2, 0), responses["stage_1"]["responded"]
    return {
        "received": {f"stage_{s}": received.get(s, 0) for s in (0, 1, 2)},
        "received_by_channel": {k: dict(sorted(v.items())) for k, v in sorted(channels.items())},
        "responses": responses,
        "working_days_to_acknowledge": spread([a for p in plans for a in p.acks]),  # every first acknowledgement
        "working_days_to_respond": spread(respond_pairs),
        "breaches": dict(sorted(breaches.items())),
        "extensions": {
            f"stage_{s}": sum(1 for p in plans for st, t in p.extends if st == s and within(t, start, end))
            for s in (1, 2)
        },  # fmt: skip
        "escalation": {
            "requests": escalations,
            "stage_1_responses": s1_responses,
            "percent": round(100 * escalations / s1_responses, 1) if s1_responses else None,
        },
        "open_cases": {
            "as_of": last_day.isoformat(),
            "age_in_working_days": dict(sorted(ages.items())),
            "total": sum(sum(b.values()) for b in ages.values()),
        },
        "ombudsman_referrals": sum(1 for p in plans for t in p.referrals if within(t, start, end)),
    }


@pytest.fixture
def year_of_cases(db_url: str) -> Iterator[tuple[ReportService, list[Plan], dict[str, list[Any]]]]:
    generated = generate(db_url, 8 * len(KINDS))
    yield generated
    generated[0].engine.dispose()


def test_tsm_counts_a_generated_year_as_worked_out_by_hand(year_of_cases: Any) -> None:
    reports, plans, _ = year_of_cases
    report = reports.tsm(2025, 2500)
    expected = expected_tsm(plans, 2025, 2500)
    assert {"CH01": report["CH01"], "CH02": report["CH02"]} == expected
    assert report["year"] == "2025/26" and report["period"] == {"from": "2025-04-01", "to": "2026-03-31"}
    # the generated year has every kind of answer in it
    assert 0 < expected["CH02"]["stage_1"]["within_timescale"] < expected["CH02"]["stage_1"]["responded"]
    assert 0 < expected["CH02"]["stage_2"]["within_timescale"] < expected["CH02"]["stage_2"]["responded"]
    before = expected_tsm(plans, 2024, 2500)
    assert reports.tsm(2024, 2500)["CH01"] == before["CH01"]  # the cases of February and March 2025


def test_monthly_kpis_match_the_plans_every_month(year_of_cases: Any) -> None:
    reports, plans, histories = year_of_cases
    seen_breaches = seen_open = 0
    sums = []
    for offset in range(0, 15):
        month = date(2025 + (1 + offset) // 12, (1 + offset) % 12 + 1, 1)
        report = reports.kpi(month.strftime("%Y-%m"))
        expected = expected_kpi(plans, histories, month)
        assert {k: report[k] for k in expected} == expected, month
        seen_breaches += sum(expected["breaches"].values())
        seen_open += expected["open_cases"]["total"]
        within = sum(v["within_timescale"] for v in report["responses"].values())
        sums.append((report["month"], sum(report["received"].values()), within, sum(report["breaches"].values())))
    assert seen_breaches and seen_open
    # the console's 12-month chart: the same figures, without the day counts and ages
    assert reports.monthly([m for m, *_ in sums]) == sums


def test_monthly_kpis_for_one_policy_count_only_its_cases(year_of_cases: Any) -> None:
    reports, plans, histories = year_of_cases
    livin = [p for p in plans if p.policy == "livin"]
    month = date(2025, 9, 1)
    report = reports.kpi("2025-09", policy="livin")
    expected = expected_kpi(livin, histories, month)
    assert {k: report[k] for k in expected} == expected
    assert reports.kpi("2025-09", policy="livin@1")["received"] == expected["received"]


def test_monthly_gives_each_policys_kpi_figures_month_by_month(year_of_cases: Any) -> None:
    """The 12-month chart's grouped queries (service.report_months) against the KPI report, per policy."""
    reports, plans, _ = year_of_cases
    months = [f"{2025 + (1 + k) // 12}-{(1 + k) % 12 + 1:02d}" for k in range(15)]
    for policy in [None, *sorted({p.policy for p in plans}), "livin@1"]:
        expected = []
        for month in months:
            report = reports.kpi(month, policy)
            within = sum(v["within_timescale"] for v in report["responses"].values())
            expected.append((month, sum(report["received"].values()), within, sum(report["breaches"].values())))
        assert reports.monthly(months, policy) == expected, policy
        assert any(row[3] for row in expected) or policy is not None
    assert reports.monthly(["2025-06", "2025-03"]) == [reports.monthly([m])[0] for m in ("2025-06", "2025-03")]
    assert reports.monthly([]) == []
