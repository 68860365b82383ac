"""Deciding and applying one event: the only way a case changes.

``decide`` answers "would this event be accepted now, and if not, why?" with
every reason code at once; ``apply`` decides, then fires the trigger on the
policy's machine and applies the deadline effects. Replay (``history``, verify)
uses ``advance`` with the recorded times: the same decision and effects on a
case it owns, so the stored case and its replay come from the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workflow.case import Case, Deadline
from workflow.data import clean, data_problems
from workflow.effects import apply_effects, find_firing
from workflow.errors import EventRefused, UnknownEvent
from workflow.guards import EventContext
from workflow.machine import Edge, machine_for
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED, EVENTS

_EVENTS = frozenset(EVENTS)


@dataclass(frozen=True)
class Decision:
    """The outcome of checking one event against a case."""

    reasons: tuple[str, ...]
    details: dict[str, str]
    edge: Edge | None

    @property
    def allowed(self) -> bool:
        return not self.reasons


def decide(
    case: Case,
    policy: Policy,
    event: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
    *,
    from_client: bool = True,
    validate_data: bool = True,
) -> Decision:
    """Every reason ``event`` is refused (none: allowed), without changing the case."""
    reasons, details, edge, _ = _evaluate(case, policy, event, data, occurred_at, now, from_client, validate_data)
    return Decision(tuple(reasons), details, edge)


_Evaluation = tuple[list[str], dict[str, str], Edge | None, EventContext | None]


def _evaluate(
    case: Case,
    policy: Policy,
    event: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
    from_client: bool,
    validate_data: bool = True,
) -> _Evaluation:
    """``decide``'s work, as a plain tuple: replay asks it for every event of a store."""
    if event not in _EVENTS:
        raise UnknownEvent(f"unknown event {event!r}; events are: {', '.join(EVENTS)}")
    reasons: list[str] = []
    details: dict[str, str] = {}
    # A timer's event is stamped with its breach instant, which may precede the event that opened it
    # (an update clock counted from an old response date); only client events are held to the order.
    if from_client and case.last_occurred_at is not None and occurred_at < case.last_occurred_at:
        reasons.append("occurred_before_previous_event")
        details["occurred_at"] = f"earlier than the previous event at {case.last_occurred_at.isoformat()}"
    if occurred_at > now:
        reasons.append("occurred_in_future")
        details["occurred_at"] = f"later than now ({now.isoformat()})"
    problems = data_problems(event, data) if validate_data else {}
    if problems:
        details.update({f"data.{k}": v for k, v in problems.items()})
        reasons.append("invalid_data")
        return reasons, details, None, None
    data = clean(data)
    ctx = EventContext(case, policy, event, data, occurred_at, now, details)
    edge = None
    if not (event == DEADLINE_PASSED and (from_client or find_firing(case, data) is None)):
        edge = machine_for(policy).route(event, ctx)
    if edge is None:
        details["state"] = f"{event} is not valid in {case.state}"
        reasons.append("invalid_in_state")
        return reasons, details, None, ctx
    for guard in edge.guards:
        reasons.extend(guard(ctx))
    return reasons, details, edge, ctx


def apply(
    case: Case,
    policy: Policy,
    event: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
    *,
    from_client: bool = True,
) -> Case:
    """A new Case with ``event`` applied, or ``EventRefused`` with every reason (the input is untouched)."""
    edge, ctx = _allowed(case, policy, event, data, occurred_at, now, from_client)
    return evolve(case, policy, event, ctx.data, occurred_at, edge)


def evolve(case: Case, policy: Policy, event: str, data: dict[str, Any], occurred_at: datetime, edge: Edge) -> Case:
    """Fire the machine and apply the effects on a copy of ``case``."""
    new = case.clone()
    ctx = EventContext(new, policy, event, data, occurred_at, occurred_at, {}, guards_passed=True)
    if not machine_for(policy).fire(event, ctx):
        raise RuntimeError(f"machine refused {event} from {case.state} after its guards allowed it")
    _settle(ctx, edge, case.last_occurred_at)
    return new


def advance(
    case: Case,
    policy: Policy,
    event: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
    *,
    from_client: bool = True,
) -> None:
    """``apply`` to ``case`` itself, for a replay that owns the case it folds (``EventRefused`` changes nothing).

    A nightly ``verify`` folds every event of a large landlord's history, so this path neither copies
    the case nor runs ``transitions`` a second time: the state moves along the edge ``decide`` chose,
    which is the transition the machine takes (``PolicyMachine.route``; the property tests hold a
    replay through here equal to the case ``apply`` built by firing the machine).
    """
    edge, ctx = _allowed(case, policy, event, data, occurred_at, now, from_client)
    before = case.last_occurred_at
    if edge.dest is not None:
        case.state = edge.dest
    _settle(ctx, edge, before)


def _allowed(
    case: Case, policy: Policy, event: str, data: dict[str, Any], occurred_at: datetime, now: datetime, client: bool
) -> tuple[Edge, EventContext]:
    """The edge an allowed event takes and the context its guards saw (its data without nulls).

    ``EventRefused`` with every reason otherwise.
    """
    reasons, details, edge, ctx = _evaluate(case, policy, event, data, occurred_at, now, client)
    if reasons:
        raise EventRefused(reasons, details)
    assert edge is not None and ctx is not None
    return edge, ctx


def _settle(ctx: EventContext, edge: Edge, last_occurred_at: datetime | None) -> None:
    """What follows the state change: the version, the effects, the latest occurred_at."""
    case = ctx.case
    case.version += 1
    apply_effects(ctx, edge, case.version)
    occurred_at = ctx.occurred_at
    case.last_occurred_at = occurred_at if last_occurred_at is None else max(occurred_at, last_occurred_at)


def due_deadlines(case: Case, now: datetime) -> list[Deadline]:
    """Open deadlines whose breach instant is at or before ``now``, in firing order."""
    due = [d for d in case.open_deadlines() if d.breach_at <= now]
    return sorted(due, key=lambda d: (d.breach_at, d.number))


def passing_data(deadline: Deadline) -> dict[str, Any]:
    return {"deadline": deadline.kind, "due": deadline.due.isoformat()}
