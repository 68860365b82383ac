"""The Case the machine drives, and its deadlines.

A case is a fold of its events: everything here can be rebuilt from the
history (``workflow.audit.history.replay``), which is what lets an auditor trust the
stored snapshot. The snapshot keeps every deadline the case ever had, with its
status, because guards look back (a stage's original response date, whether a
response date exists) and timelines show what was met and what was breached.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from workflow.calendar import breach_instant
from workflow.vocabulary import NEW, WINDOWS

OPEN, MET, PASSED, REPLACED, CANCELLED = "open", "met", "passed", "replaced", "cancelled"


@dataclass
class Deadline:
    """One clock of a case; ``number`` orders them (same instant: first opened fires first)."""

    number: int
    kind: str
    due: date
    stage: int
    opened_seq: int
    status: str = OPEN
    closed_seq: int | None = None
    provisional: bool = False  # a response date opened by a missed acknowledgement
    extended: bool = False  # set by an extension
    agreed: bool = False  # set by an extension the customer agreed to
    original_due: date | None = None  # a response's date before any extension (caps count from it)

    @property
    def breach_at(self) -> datetime:
        return breach_instant(self.due)

    @property
    def is_window(self) -> bool:
        return self.kind in WINDOWS

    def to_dict(self) -> dict[str, Any]:
        return {  # written out, not dataclasses.asdict: this runs for every deadline of every command
            "number": self.number,
            "kind": self.kind,
            "due": self.due.isoformat(),
            "stage": self.stage,
            "opened_seq": self.opened_seq,
            "status": self.status,
            "closed_seq": self.closed_seq,
            "provisional": self.provisional,
            "extended": self.extended,
            "agreed": self.agreed,
            "original_due": self.original_due.isoformat() if self.original_due else None,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Deadline:
        values = dict(raw)
        values["due"] = date.fromisoformat(values["due"])
        if values.get("original_due"):
            values["original_due"] = date.fromisoformat(values["original_due"])
        return cls(**values)


@dataclass
class Handler:
    name: str
    role: str
    department: str | None
    stage: int


@dataclass
class Case:
    id: str
    policy_id: str
    policy_version: int
    state: str = NEW
    closure_reason: str | None = None
    version: int = 0  # events applied; the optimistic-concurrency token
    opened_at: datetime | None = None
    last_occurred_at: datetime | None = None
    received: dict[str, Any] = field(default_factory=dict)
    handlers: list[Handler] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    acknowledged_stages: list[int] = field(default_factory=list)
    update_clock_stages: list[int] = field(default_factory=list)

    # -- queries the guards and effects share --------------------------------

    def open_deadlines(self) -> list[Deadline]:
        return [d for d in self.deadlines if d.status == OPEN]

    def open_deadline(self, kind: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.kind == kind and d.status == OPEN), None)

    def current(self, kind: str) -> Deadline | None:
        """The latest deadline of ``kind`` that is open or already passed (not replaced, met or cancelled)."""
        for d in reversed(self.deadlines):
            if d.kind == kind and d.status in (OPEN, PASSED):
                return d
        return None

    def latest(self, kind: str) -> Deadline | None:
        return next((d for d in reversed(self.deadlines) if d.kind == kind), None)

    def stage_handlers(self, stage: int) -> list[Handler]:
        return [h for h in self.handlers if h.stage == stage]

    def flags(self) -> list[str]:
        return list(self.received.get("flags") or [])

    def open_deadlines_map(self) -> dict[str, str]:
        return {d.kind: d.due.isoformat() for d in self.open_deadlines()}

    def clone(self) -> Case:
        """A copy ``apply`` may change without touching this case.

        Deadlines and handlers are copied one level down (their fields are immutable values);
        ``received`` is replaced wholesale, never changed in place. Much cheaper than deepcopy
        or a snapshot round trip, and the command path runs it once per event.
        """
        return replace(
            self,
            received=dict(self.received),
            handlers=[copy(h) for h in self.handlers],
            deadlines=[copy(d) for d in self.deadlines],
            breaches=list(self.breaches),
            acknowledged_stages=list(self.acknowledged_stages),
            update_clock_stages=list(self.update_clock_stages),
        )

    # -- snapshot ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "state": self.state,
            "closure_reason": self.closure_reason,
            "version": self.version,
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "last_occurred_at": self.last_occurred_at.isoformat() if self.last_occurred_at else None,
            "received": dict(self.received),
            "handlers": [
                {"name": h.name, "role": h.role, "department": h.department, "stage": h.stage} for h in self.handlers
            ],
            "deadlines": [d.to_dict() for d in self.deadlines],
            "breaches": list(self.breaches),
            "acknowledged_stages": list(self.acknowledged_stages),
            "update_clock_stages": list(self.update_clock_stages),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Case:
        return cls(
            id=raw["id"],
            policy_id=raw["policy_id"],
            policy_version=raw["policy_version"],
            state=raw["state"],
            closure_reason=raw.get("closure_reason"),
            version=raw["version"],
            opened_at=_instant(raw.get("opened_at")),
            last_occurred_at=_instant(raw.get("last_occurred_at")),
            received=dict(raw.get("received") or {}),
            handlers=[Handler(**h) for h in raw.get("handlers", [])],
            deadlines=[Deadline.from_dict(d) for d in raw.get("deadlines", [])],
            breaches=list(raw.get("breaches", [])),
            acknowledged_stages=list(raw.get("acknowledged_stages", [])),
            update_clock_stages=list(raw.get("update_clock_stages", [])),
        )


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
