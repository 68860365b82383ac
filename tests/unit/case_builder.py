"""A small story-teller for unit tests: drives a Case through the pure engine, firing due deadlines
before each event as the service does, with no database.

The clock starts on Monday 7 June 2027 at 09:00 UTC (10:00 BST); no bank holiday falls until 30 August,
so working-day arithmetic in the tests stays easy to check by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workflow.audit.history import EventRecord, new_case
from workflow.case import Case
from workflow.catalog import shipped
from workflow.engine import apply, decide, due_deadlines, passing_data
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED

START = datetime(2027, 6, 7, 9, 0, tzinfo=UTC)
POLICIES = ("code_2024@1", "b3living@2", "b3living@1", "resolution_team@1", "brighter_places@1", "livin@1")

LETTER = {
    "decision": "upheld",
    "reasons": "we were late",
    "remedy": "apology",
    "outstanding_actions": "none",
    "escalation_route": "ask for stage 2",
    "ombudsman_info": "Housing Ombudsman Service",
}
STAGE_1_HANDLER = {
    "handler": "Ann Smith",
    "handler_role": "director",
    "handler_department": "Repairs",
    "complaint_definition": "Leak not fixed",
}
STAGE_2_HANDLER = {
    "handler": "Bob Jones",
    "handler_role": "director",
    "handler_department": "Finance",
    "complaint_definition": "Review of the leak",
}


class Story:
    """One case, told event by event; ``now`` only moves forward."""

    def __init__(self, ref: str, now: datetime = START) -> None:
        self.policy: Policy = shipped().resolve(ref)
        self.case: Case = new_case("case-1", self.policy)
        self.now = now
        self.records: list[EventRecord] = []  # what the service would store, for replay

    # -- time -----------------------------------------------------------------------

    def wait(self, **delta: float) -> Story:
        self.now += timedelta(**delta)
        self.fire()
        return self

    def until(self, instant: datetime) -> Story:
        assert instant >= self.now
        self.now = instant
        self.fire()
        return self

    def fire(self) -> Story:
        while due := due_deadlines(self.case, self.now):
            deadline = due[0]
            data = passing_data(deadline)
            self.case = apply(
                self.case, self.policy, DEADLINE_PASSED, data, deadline.breach_at, self.now, from_client=False
            )
            self._record(DEADLINE_PASSED, data, deadline.breach_at)
        return self

    def _record(self, name: str, data: dict[str, Any], occurred_at: datetime) -> None:
        self.records.append(
            EventRecord(self.case.id, self.case.version, name, dict(data), occurred_at, self.now, "test")
        )

    # -- events ---------------------------------------------------------------------

    def do(self, event: str, data: dict[str, Any] | None = None, occurred_at: datetime | None = None) -> Story:
        self.now += timedelta(minutes=1)
        self.fire()
        self.case = apply(self.case, self.policy, event, data or {}, occurred_at or self.now, self.now)
        self._record(event, data or {}, occurred_at or self.now)
        return self

    def reasons(self, event: str, data: dict[str, Any] | None = None, occurred_at: datetime | None = None) -> list[str]:
        """The reason codes ``event`` would be refused with now (sorted; empty = allowed)."""
        decision = decide(self.case, self.policy, event, data or {}, occurred_at or self.now, self.now)
        return sorted(decision.reasons)

    # -- common paths (each fills in what DOMAIN.md requires; keyword arguments override) ---------

    def receive(self, **data: Any) -> Story:
        return self.do("receive", {"incident_date": "2027-06-01", "formal": True, **data})

    def ack(self, **handler: Any) -> Story:
        return self.do("acknowledge", {**STAGE_1_HANDLER, **handler})

    def respond(self, **letter: Any) -> Story:
        return self.do("respond", {**LETTER, **letter})

    def escalate(self, **data: Any) -> Story:
        return self.do("request_escalation", {"requested_by": "customer", "reasons": "still leaking", **data})

    def accept(self, **handler: Any) -> Story:
        return self.do("acknowledge", {**STAGE_2_HANDLER, **handler})


def story(ref: str, **receive: Any) -> Story:
    """A case received (formal) under ``ref``."""
    return Story(ref).receive(**receive)


def at_stage_2_requested(ref: str, **receive: Any) -> Story:
    return story(ref, **receive).ack().respond().escalate()
