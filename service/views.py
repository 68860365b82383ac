"""Plain-dict views of a case and its history: what every entry point shows."""

from __future__ import annotations

from typing import Any

from workflow.audit.history import EventRecord
from workflow.case import Case, Deadline


def deadline_view(d: Deadline) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "due": d.due.isoformat(),
        "breach_at": d.breach_at.isoformat(),
        "status": d.status,
        "stage": d.stage,
        "window": d.is_window,
    }


def case_view(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "policy": case.policy_id,
        "policy_version": case.policy_version,
        "state": case.state,
        "closure_reason": case.closure_reason,
        "version": case.version,
        "opened_at": case.opened_at.isoformat() if case.opened_at else None,
        "deadlines": [deadline_view(d) for d in case.open_deadlines()],
        "breaches": list(case.breaches),
        "received": dict(case.received),
    }


def event_view(record: EventRecord) -> dict[str, Any]:
    return record.to_dict()
