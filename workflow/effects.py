"""What an applied event does to a case's deadlines, closure reason and handlers.

The machine has already moved the state; this module is DOMAIN.md's
"Deadlines" section as code: which clocks an event opens, meets, replaces or
cancels, and what a passing deadline does. It is pure and deterministic, so
replaying the same events always gives the same deadlines.
"""

from __future__ import annotations

from datetime import date, timedelta

from workflow.case import CANCELLED, MET, OPEN, PASSED, REPLACED, Case, Deadline, Handler
from workflow.data import parse_iso_date
from workflow.guards import EventContext
from workflow.machine import Edge
from workflow.vocabulary import CLOSURE_BY_EVENT


class Clocks:
    """Opens and closes a case's deadlines for one event (sequence ``seq``)."""

    def __init__(self, ctx: EventContext, seq: int) -> None:
        self.ctx, self.case, self.policy, self.seq = ctx, ctx.case, ctx.policy, seq

    def open(self, kind: str, due: date, stage: int, **flags: object) -> Deadline:
        deadline = Deadline(
            number=len(self.case.deadlines) + 1, kind=kind, due=due, stage=stage, opened_seq=self.seq, **flags
        )
        self.case.deadlines.append(deadline)
        return deadline

    def close(self, deadline: Deadline | None, status: str) -> None:
        if deadline is not None and deadline.status == OPEN:
            deadline.status, deadline.closed_seq = status, self.seq

    def meet(self, *kinds: str) -> None:
        for d in self.case.open_deadlines():
            if d.kind in kinds:
                self.close(d, MET)

    def cancel_obligations(self, windows_too: bool = False) -> None:
        for d in self.case.open_deadlines():
            if windows_too or not d.is_window:
                self.close(d, CANCELLED)

    def open_stage(self, stage: int, anchor: date, *, from_what: str) -> None:
        """A stage's clocks: the acknowledgement, and the response where it counts from ``from_what``."""
        rules = self.policy.stage(stage)
        cal = self.policy.calendar
        self.open(f"stage_{stage}_acknowledgement", cal.add(anchor, rules.acknowledgement), stage)
        if rules.response_from == from_what:
            due = cal.add(anchor, rules.response)
            self.open(f"stage_{stage}_response", due, stage, original_due=due)

    def start_response_clock(self, stage: int, anchor: date) -> None:
        """The first acknowledgement starts (or re-anchors a provisional) response that counts from it."""
        rules = self.policy.stage(stage)
        kind = f"stage_{stage}_response"
        current = self.case.current(kind)
        if current is not None and (current.extended or not current.provisional):
            return  # a response date set by an extension, or already anchored, is not re-anchored
        if current is not None:
            self.close(current, REPLACED)  # a breached provisional date keeps its breach
        due = self.policy.calendar.add(anchor, rules.response)
        self.open(kind, due, stage, original_due=due)

    def start_updates(self, stage: int, response: Deadline) -> None:
        interval = self.policy.stage(stage).update_interval
        if interval is None or stage in self.case.update_clock_stages:
            return
        self.case.update_clock_stages.append(stage)
        original = response.original_due or response.due
        self.open(f"stage_{stage}_update", self.policy.calendar.add(original, interval), stage)


def apply_effects(ctx: EventContext, edge: Edge, seq: int) -> None:
    """Everything but the state change, for an event the guards allowed."""
    clocks = Clocks(ctx, seq)
    case, policy, data = ctx.case, ctx.policy, ctx.data
    name = ctx.event
    source = edge.source
    stage = 2 if source.startswith("stage_2") else 1

    if name == "receive":
        case.received = dict(data)
        case.opened_at = ctx.occurred_at
        if case.state == "stage_0":
            assert policy.informal is not None
            clocks.open("informal_response", policy.calendar.add(ctx.day, policy.informal.response), 0)
        else:
            clocks.open_stage(1, ctx.day, from_what="logging")
    elif name == "log_formal":
        clocks.meet("informal_response")
        clocks.open_stage(1, ctx.day, from_what="logging")
    elif name == "acknowledge":
        clocks.meet(f"stage_{stage}_acknowledgement")
        case.handlers.append(
            Handler(ctx.text("handler"), data["handler_role"], ctx.text("handler_department") or None, stage)
        )
        if stage not in case.acknowledged_stages:
            case.acknowledged_stages.append(stage)
            if policy.stage(stage).response_counts_from_acknowledgement:
                clocks.start_response_clock(stage, ctx.day)
    elif name == "decline":
        clocks.meet("informal_response", "stage_1_acknowledgement", "stage_1_response")
    elif name == "extend":
        kind = f"stage_{stage}_response"
        current = case.current(kind)
        original = (current.original_due or current.due) if current else None
        clocks.close(current, REPLACED)
        new_due = parse_iso_date(data.get("new_due"))
        assert new_due is not None
        extended = clocks.open(
            kind, new_due, stage, extended=True, agreed=ctx.flag("customer_agreed"), original_due=original
        )
        clocks.start_updates(stage, extended)
    elif name == "respond":
        clocks.meet(f"stage_{stage}_acknowledgement", f"stage_{stage}_response", f"stage_{stage}_update")
        window = policy.escalation.window
        if stage == 1 and window is not None:
            clocks.open("escalation_window", policy.calendar.add(ctx.day, window), 1)
    elif name == "request_escalation":
        clocks.meet("escalation_window")
        for d in case.open_deadlines():
            if d.stage in (0, 1) and not d.is_window:
                clocks.close(d, CANCELLED)
        clocks.open_stage(2, ctx.day, from_what="request")
    elif name == "refuse_escalation":
        clocks.meet("stage_2_acknowledgement")
        clocks.close(case.open_deadline("stage_2_response"), CANCELLED)
    elif name == "record_update":
        update = next((d for d in case.open_deadlines() if d.kind.endswith("_update")), None)
        if update is not None:
            clocks.close(update, MET)
            interval = policy.stage(update.stage).update_interval
            assert interval is not None
            clocks.open(update.kind, policy.calendar.add(ctx.day, interval), update.stage)
    elif name == "refer_to_ombudsman":
        clocks.close(case.open_deadline("ombudsman_wait"), CANCELLED)
    elif name == "deadline_passed":
        _deadline_passes(clocks, ctx)

    _closure(clocks, ctx, edge)


def _closure(clocks: Clocks, ctx: EventContext, edge: Edge) -> None:
    case, name = ctx.case, ctx.event
    if edge.dest == "stage_2_requested":
        case.closure_reason = None  # a late escalation clears the closure
    if edge.dest != "closed" or edge.source == "closed":
        return
    reason = CLOSURE_BY_EVENT[name]
    case.closure_reason = reason
    clocks.cancel_obligations(windows_too=name == "withdraw")
    wait = ctx.policy.ombudsman.wait
    if wait is not None and reason in ("final_response", "escalation_refused"):
        clocks.open("ombudsman_wait", ctx.policy.calendar.add(ctx.day, wait), 2)


def _deadline_passes(clocks: Clocks, ctx: EventContext) -> None:
    case, policy = ctx.case, ctx.policy
    deadline = find_firing(case, ctx.data)
    assert deadline is not None  # the engine refuses a deadline_passed with nothing to pass
    clocks.close(deadline, PASSED)
    if not deadline.is_window:
        case.breaches.append(deadline.kind)
    kind, stage = deadline.kind, deadline.stage
    after = deadline.due + timedelta(days=1)  # the local date of the breach instant
    if kind == "informal_response" and case.state == "stage_1":
        clocks.open_stage(1, after, from_what="logging")  # the move is the logging
    elif kind.endswith("_acknowledgement") and policy.stage(stage).response_counts_from_acknowledgement:
        if case.current(f"stage_{stage}_response") is None:
            due = policy.calendar.add(deadline.due, policy.stage(stage).response)
            clocks.open(f"stage_{stage}_response", due, stage, provisional=True, original_due=due)
    elif kind.endswith("_response") and kind.startswith("stage_"):
        clocks.start_updates(stage, deadline)
    elif kind.endswith("_update"):
        interval = policy.stage(stage).update_interval
        assert interval is not None
        clocks.open(kind, policy.calendar.add(deadline.due, interval), stage)


def find_firing(case: Case, data: dict[str, object]) -> Deadline | None:
    """The open deadline a ``deadline_passed`` event names (kind and due)."""
    due = parse_iso_date(data.get("due"))
    for d in case.open_deadlines():
        if d.kind == data.get("deadline") and d.due == due:
            return d
    return None
