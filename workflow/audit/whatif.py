"""What-if: the same client events under another policy, event by event, with no side effects.

"Would this case have met the 2024 Code?" The stored history is folded under
its own policy (the original side) and its client events are decided and
applied under the other policy (the what-if side), which fires its *own*
deadlines at their breach instants, as the service would have: before each
event, every what-if deadline whose breach instant is at or before the
moment the event was recorded passes first. ``deadline_passed`` records of
the original history are not replayed on the what-if side; each side's
passings are paired by kind and due date. After the last event the what-if
side's clocks run on to ``until`` (by default the last instant the history
knows of). An event the other policy refuses changes nothing there, and the
next events go on from the unchanged case, as the service would answer them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.audit.history import EventRecord, fold, new_case
from workflow.case import OPEN, Case
from workflow.effects import find_firing
from workflow.engine import apply, due_deadlines, passing_data
from workflow.errors import EventRefused
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED


@dataclass
class Side:
    """What one event did under one policy."""

    applied: bool
    state_after: str
    reasons: list[str] = field(default_factory=list)
    opened: dict[str, str] = field(default_factory=dict)  # kind -> due
    closed: dict[str, str] = field(default_factory=dict)  # kind -> met | cancelled | replaced

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class Passing:
    kind: str
    due: str
    at: datetime
    breach: bool
    seq: int | None = None  # the stored deadline_passed event (original side)


@dataclass
class Step:
    kind: str  # event | deadline
    name: str
    at: datetime
    seq: int | None = None  # the stored event's sequence number
    original: Side | Passing | None = None
    what_if: Side | Passing | None = None
    differences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def side(value: Side | Passing | None) -> dict[str, Any] | None:
            if value is None:
                return None
            if isinstance(value, Passing):
                return {"deadline": value.kind, "due": value.due, "breach": value.breach}
            return value.to_dict()

        return {
            "kind": self.kind,
            "name": self.name,
            "at": self.at.isoformat(),
            "seq": self.seq,
            "original": side(self.original),
            "what_if": side(self.what_if),
            "differences": list(self.differences),
        }


@dataclass
class WhatIf:
    original: Case
    what_if: Case
    steps: list[Step]
    until: datetime | None

    @property
    def differs(self) -> bool:
        return any(s.differences for s in self.steps) or summary(self.original) != summary(self.what_if)


def summary(case: Case) -> dict[str, Any]:
    return {
        "state": case.state,
        "closure_reason": case.closure_reason,
        "breaches": list(case.breaches),
        "open_deadlines": case.open_deadlines_map(),
    }


def _side(before: Case, after: Case) -> Side:
    known = len(before.deadlines)
    opened = {d.kind: d.due.isoformat() for d in after.deadlines[known:]}
    closed = {
        d.kind: d.status
        for d, old in zip(after.deadlines, before.deadlines, strict=False)
        if old.status == OPEN and d.status != OPEN
    }
    return Side(True, after.state, opened=opened, closed=closed)


def _fire(case: Case, policy: Policy, now: datetime) -> tuple[Case, list[Passing]]:
    passed: list[Passing] = []
    while due := due_deadlines(case, now):
        deadline = due[0]
        case = apply(case, policy, DEADLINE_PASSED, passing_data(deadline), deadline.breach_at, now, from_client=False)
        passed.append(Passing(deadline.kind, deadline.due.isoformat(), deadline.breach_at, not deadline.is_window))
    return case, passed


def _pair(original: list[Passing], other: list[Passing], names: tuple[str, str]) -> list[Step]:
    steps: list[Step] = []
    unmatched = list(other)
    for mine in original:
        twin = next((p for p in unmatched if (p.kind, p.due) == (mine.kind, mine.due)), None)
        if twin is not None:
            unmatched.remove(twin)
        step = Step("deadline", mine.kind, mine.at, mine.seq, original=mine, what_if=twin)
        if twin is None:
            what = "breached" if mine.breach else "passed"
            step.differences.append(f"{mine.kind} due {mine.due} {what} under {names[0]} only")
        steps.append(step)
    for theirs in unmatched:
        what = "would have been breached" if theirs.breach else "would have passed"
        step = Step("deadline", theirs.kind, theirs.at, what_if=theirs)
        step.differences.append(f"{theirs.kind} due {theirs.due} {what} under {names[1]}")
        steps.append(step)
    return sorted(steps, key=lambda s: s.at)


def _due(value: str | None) -> str:
    return f"opened due {value}" if value else "not opened"


def _differences(original: Side, other: Side, names: tuple[str, str]) -> list[str]:
    if not other.applied:
        return [f"refused under {names[1]}: {', '.join(other.reasons)}"]
    out: list[str] = []
    if original.state_after != other.state_after:
        out.append(f"state after: {original.state_after} under {names[0]}, {other.state_after} under {names[1]}")
    for kind in sorted(set(original.opened) | set(other.opened)):
        mine, theirs = original.opened.get(kind), other.opened.get(kind)
        if mine != theirs:
            out.append(f"{kind}: {_due(mine)} under {names[0]}, {_due(theirs)} under {names[1]}")
    for kind in sorted(set(original.closed) | set(other.closed)):
        mine, theirs = original.closed.get(kind), other.closed.get(kind)
        if mine != theirs:
            out.append(f"{kind}: {mine or 'not open'} under {names[0]}, {theirs or 'not open'} under {names[1]}")
    return out


def what_if(
    case_id: str,
    original: Policy,
    other: Policy,
    records: Sequence[EventRecord],
    until: datetime | None = None,
) -> WhatIf:
    names = (original.ref, other.ref)
    mine, theirs = new_case(case_id, original), new_case(case_id, other)
    steps: list[Step] = []
    my_passings: list[Passing] = []
    last = None
    for record in records:
        now = max(record.recorded_at, record.occurred_at)
        last = now if last is None else max(last, now)
        if record.name == DEADLINE_PASSED:
            deadline = find_firing(mine, record.data)
            mine = fold(mine, original, record)
            if deadline is not None:
                passing = Passing(deadline.kind, deadline.due.isoformat(), record.occurred_at, not deadline.is_window)
                passing.seq = record.seq
                my_passings.append(passing)
            continue
        theirs, their_passings = _fire(theirs, other, now)
        steps.extend(_pair(my_passings, their_passings, names))
        my_passings = []
        before = mine
        mine = fold(mine, original, record)
        my_side = _side(before, mine)
        try:
            after = apply(theirs, other, record.name, record.data, record.occurred_at, now)
            their_side = _side(theirs, after)
            theirs = after
        except EventRefused as refusal:
            their_side = Side(False, theirs.state, reasons=list(refusal.reasons))
        step = Step("event", record.name, record.occurred_at, record.seq, my_side, their_side)
        step.differences = _differences(my_side, their_side, names)
        steps.append(step)
    end = until or last
    their_passings = []
    if end is not None:
        theirs, their_passings = _fire(theirs, other, end)
    steps.extend(_pair(my_passings, their_passings, names))
    return WhatIf(mine, theirs, steps, end)
