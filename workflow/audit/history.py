"""Event records and replay: a case is the fold of its history.

Replay applies each recorded event through the same engine with the time it
was recorded as "now", so a replay reproduces exactly what the service
stored. ``fold`` gives a new case per event (timelines and what-if compare
each step with the one before); ``replay`` folds into one case it owns
(``engine.advance``), which is what ``verify`` runs over a whole store.
An event that no longer applies raises: a history that cannot be replayed
is evidence of tampering or of a bug, never something to skip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.case import Case
from workflow.engine import advance, apply
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED


@dataclass(frozen=True)
class EventRecord:
    """One applied event, as stored: a fact in the past tense."""

    case_id: str
    seq: int
    name: str
    data: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    state_before: str = ""
    state_after: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "name": self.name,
            "data": self.data,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "state_before": self.state_before,
            "state_after": self.state_after,
        }


def new_case(case_id: str, policy: Policy) -> Case:
    return Case(id=case_id, policy_id=policy.id, policy_version=policy.version)


def fold(case: Case, policy: Policy, record: EventRecord) -> Case:
    return apply(
        case,
        policy,
        record.name,
        record.data,
        record.occurred_at,
        max(record.recorded_at, record.occurred_at),
        from_client=record.name != DEADLINE_PASSED,
    )


def replay(case_id: str, policy: Policy, records: Iterable[EventRecord]) -> Case:
    """The case its history describes (raises ``EventRefused`` if the history does not hold)."""
    case = new_case(case_id, policy)
    for r in records:
        fold_into(case, policy, r.name, r.data, r.occurred_at, r.recorded_at)
    return case


def fold_into(
    case: Case, policy: Policy, name: str, data: dict[str, Any], occurred_at: datetime, recorded_at: datetime
) -> None:
    """``fold`` into ``case`` itself, given the stored columns (``EventRefused`` leaves it as it was)."""
    now = recorded_at if recorded_at > occurred_at else occurred_at
    advance(case, policy, name, data, occurred_at, now, from_client=name != DEADLINE_PASSED)
