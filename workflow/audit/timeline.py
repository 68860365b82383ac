"""A case's history as an auditor reads it, and the case as it stood at a moment.

Pure: both are folds of the stored records (``workflow.audit.history``), so what
they show is what the engine does, not a second reading of the rules.

- ``replay_at``: ``as_of`` keeps the events that had *occurred* by then (what
  happened); ``known_at`` those *recorded* by then (what the landlord knew).
  Records are in store order, so ``known_at`` is a prefix; ``as_of`` skips
  later events, and a ``deadline_passed`` stamped before ``as_of`` whose
  deadline was opened by a later event (an update clock counted from an old
  date) is skipped with it.
- ``timeline``: one entry per event with the deadlines it opened and closed;
  a met deadline shows the working days taken against those allowed, both
  counted from the local date of the event that opened it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.audit.history import EventRecord, fold, new_case
from workflow.calendar import local_date
from workflow.case import MET, PASSED, Case, Deadline
from workflow.effects import find_firing
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED


@dataclass(frozen=True)
class Moment:
    """The case at a moment, and which events made it so."""

    case: Case
    folded: tuple[int, ...]  # seq numbers folded
    skipped: tuple[int, ...]  # seq numbers left out (occurred or recorded later)


def replay_at(
    case_id: str,
    policy: Policy,
    records: Iterable[EventRecord],
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> Moment:
    case = new_case(case_id, policy)
    folded: list[int] = []
    skipped: list[int] = []
    for record in records:
        late = known_at is not None and record.recorded_at > known_at
        future = as_of is not None and record.occurred_at > as_of
        orphan = record.name == DEADLINE_PASSED and find_firing(case, record.data) is None
        if late or future or (orphan and (as_of is not None or known_at is not None)):
            skipped.append(record.seq)
            continue
        case = fold(case, policy, record)
        folded.append(record.seq)
    return Moment(case, tuple(folded), tuple(skipped))


@dataclass
class DeadlineChange:
    kind: str
    due: str
    stage: int
    status: str  # what became of it at this event: opened | met | passed | replaced | cancelled
    breach: bool = False  # an obligation passed unmet
    working_days_allowed: int | None = None
    working_days_taken: int | None = None
    opened_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class Entry:
    seq: int
    name: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    state_before: str
    state_after: str
    data: dict[str, Any]
    opened: list[DeadlineChange] = field(default_factory=list)
    closed: list[DeadlineChange] = field(default_factory=list)
    hash: str = ""

    @property
    def back_dated(self) -> bool:
        return self.name != DEADLINE_PASSED and self.recorded_at > self.occurred_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "name": self.name,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "data": self.data,
            "opened": [c.to_dict() for c in self.opened],
            "closed": [c.to_dict() for c in self.closed],
            "hash": self.hash,
        }


def timeline(records: Sequence[EventRecord], case: Case, policy: Policy) -> list[Entry]:
    """One entry per record; ``case`` is the fold of ``records`` (it holds every deadline ever opened)."""
    by_seq = {r.seq: r for r in records}
    entries = {
        r.seq: Entry(
            r.seq,
            r.name,
            r.occurred_at,
            r.recorded_at,
            r.actor,
            r.state_before,
            r.state_after,
            r.data,
            hash=str(r.meta.get("hash", "")),
        )
        for r in records
    }
    for deadline in case.deadlines:
        opener = by_seq.get(deadline.opened_seq)
        if deadline.opened_seq in entries:
            entries[deadline.opened_seq].opened.append(_change(deadline, "opened", policy, opener, None))
        if deadline.closed_seq is not None and deadline.closed_seq in entries:
            closer = by_seq.get(deadline.closed_seq)
            entries[deadline.closed_seq].closed.append(_change(deadline, deadline.status, policy, opener, closer))
    return [entries[r.seq] for r in records]


def _change(
    deadline: Deadline, status: str, policy: Policy, opener: EventRecord | None, closer: EventRecord | None
) -> DeadlineChange:
    change = DeadlineChange(
        deadline.kind,
        deadline.due.isoformat(),
        deadline.stage,
        status,
        breach=status == PASSED and not deadline.is_window,
        opened_seq=deadline.opened_seq,
    )
    if opener is not None:
        start = local_date(opener.occurred_at)
        change.working_days_allowed = policy.calendar.working_days_between(start, deadline.due)
        if status == MET and closer is not None:
            change.working_days_taken = policy.calendar.working_days_between(start, local_date(closer.occurred_at))
    return change
