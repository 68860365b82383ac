"""The clocks a diagram lists in a state are the clocks the engine can have open there.

Random histories (seeded, so a failure repeats) run through the real engine
under every shipped policy; after every step each open deadline must be one
the diagram lists for the case's state. This is what keeps the hand-written
``running_timers`` table honest as the effects change.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflow.audit.history import new_case
from workflow.calendar import local_date
from workflow.catalog import shipped
from workflow.diagrams.labels import running_timers
from workflow.engine import apply, due_deadlines, passing_data
from workflow.errors import EventRefused
from workflow.vocabulary import CLIENT_EVENTS, DEADLINE_PASSED, LETTER_FIELDS

POLICIES = shipped().all()
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def _data(event: str, rng: random.Random, now: datetime, policy: Any) -> dict[str, Any]:
    today = local_date(now)
    if event == "acknowledge":
        return {
            "handler": rng.choice(["Ann", "Bob", "Cy", "Di"]),
            "handler_role": "director",
            "handler_department": rng.choice(["repairs", "housing", "finance"]),
            "complaint_definition": "the complaint",
        }
    if event == "extend":
        return {
            "new_due": (today + timedelta(days=rng.randint(3, 40))).isoformat(),
            "reason": "more time",
            "customer_agreed": rng.random() < 0.5,
            "ombudsman_details_given": True,
            "good_reason": rng.random() < 0.5,
        }
    if event == "respond":
        return dict.fromkeys(LETTER_FIELDS, "done")
    if event == "request_escalation":
        return {"requested_by": "customer", "reasons": "unhappy", "late_reason": rng.choice(["", "away"])}
    if event == "refuse_escalation":
        return {"reason": rng.choice([*policy.refusal_grounds, "new_issue"])}
    if event == "decline":
        return {"reason": "service_request"}
    if event == "refer_to_ombudsman":
        return {"via_designated_person": rng.random() < 0.5}
    return {}


@pytest.mark.parametrize("policy", POLICIES, ids=[p.ref for p in POLICIES])
def test_every_open_deadline_is_one_the_diagram_lists_for_the_state(policy) -> None:
    listed = {state: {t.kind for t in timers} for state, timers in running_timers(policy).items()}
    rng = random.Random(f"{policy.ref}-timers")
    seen: set[tuple[str, str]] = set()
    for _ in range(60):
        now = START
        case = new_case("c", policy)
        receive = {"incident_date": local_date(now).isoformat(), "formal": rng.random() < 0.4}
        case = apply(case, policy, "receive", receive, now, now)
        for _step in range(25):
            now += timedelta(days=rng.choice([0, 1, 2, 3, 6, 10, 20, 40]), hours=rng.randint(0, 8))
            while due := due_deadlines(case, now):
                d = due[0]
                case = apply(case, policy, DEADLINE_PASSED, passing_data(d), d.breach_at, now, from_client=False)
                _check(case, listed, seen)
            event = rng.choice([e for e in CLIENT_EVENTS if e != "receive"])
            try:
                case = apply(case, policy, event, _data(event, rng, now, policy), now, now)
            except EventRefused:
                continue
            _check(case, listed, seen)
    assert len(seen) >= 6  # the walk reached deep enough to mean something


def _check(case: Any, listed: dict[str, set[str]], seen: set[tuple[str, str]]) -> None:
    for d in case.open_deadlines():
        seen.add((case.state, d.kind))
        assert d.kind in listed.get(case.state, set()), f"{d.kind} open in {case.state}, not drawn there"
