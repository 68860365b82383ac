"""The rows a case writes: its snapshot, its events and its deadlines, and the statements that write them.

Shared by the commands (storage/repository.py) and the timers' batches (storage/firing_rows.py), so both
write exactly the same columns. Statements are built once: building SQLAlchemy expressions costs more
than running them on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from storage.driver_rows import DriverStatement
from storage.tables import cases, deadlines, events, idempotency_keys
from workflow.audit.canonical import HASHED_FIELDS
from workflow.audit.history import EventRecord
from workflow.case import Case, Deadline

SAVE = (
    sa.update(cases)
    .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version"))
    .values(
        state=sa.bindparam("state"),
        closure_reason=sa.bindparam("closure_reason"),
        version=sa.bindparam("version"),
        updated_at=sa.bindparam("updated_at"),
        breach_count=sa.bindparam("breach_count"),
        snapshot=sa.bindparam("snapshot"),
    )
)
# inline(): nothing reads an inserted event's id back, so no RETURNING (PostgreSQL) nor pre-executed sequence
INSERT_EVENTS = sa.insert(events).inline()
EVENT_KEYS = (*HASHED_FIELDS, "hash")  # an event row: the fields its hash covers, then the hash
event_values = itemgetter(*EVENT_KEYS)
# The same statements run with plain tuples (storage/driver_rows.py): a timers batch writes thousands of rows.
SAVE_ROWS = DriverStatement(
    SAVE, ("state", "closure_reason", "version", "updated_at", "breach_count", "snapshot", "b_id", "b_version")
)
INSERT_EVENT_ROWS = DriverStatement(INSERT_EVENTS, EVENT_KEYS, column_keys=EVENT_KEYS)

# PostgreSQL: SAVE that also stores an idempotency key's answer (storage/idempotency.py) in the same statement, a
# data-modifying WITH that runs whether or not the update matches; it answers how many key rows went in (0: the
# key was taken first) when the update matched, and no row when it did not (a stale version). One round trip and
# one statement's client-side cost fewer per keyed command. SQLite has no such WITH: the key is inserted apart.
KEY_COLUMNS = ("key", "request_hash", "status_code", "response", "created_at")
_NEW_KEY = (
    postgresql.insert(idempotency_keys)
    .values({c: sa.bindparam(f"k_{c}", type_=idempotency_keys.c[c].type) for c in KEY_COLUMNS})
    .on_conflict_do_nothing()
    .returning(idempotency_keys.c.key)
    .cte("new_key")
)
SAVE_KEYED = SAVE.add_cte(_NEW_KEY).returning(sa.select(sa.func.count()).select_from(_NEW_KEY).scalar_subquery())
SAVE_KEYED_ROWS = DriverStatement(SAVE_KEYED, (*SAVE_ROWS.keys, *(f"k_{c}" for c in KEY_COLUMNS)))
DEADLINE_STATUS = (
    sa.update(deadlines)
    .where(deadlines.c.case_id == sa.bindparam("b_case"), deadlines.c.number == sa.bindparam("b_number"))
    .values(status=sa.bindparam("b_status"), closed_seq=sa.bindparam("b_closed"))
)


HEAD = (  # the hash of the case's last event: its seq is the case's version
    sa.select(events.c.hash)
    .where(events.c.case_id == cases.c.id, events.c.seq == cases.c.version)
    .correlate(cases)
    .scalar_subquery()
    .label("head")
)


def deadline_row(case_id: str, d: Deadline) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "number": d.number,
        "kind": d.kind,
        "stage": d.stage,
        "due": d.due,
        "breach_at": d.breach_at,
        "status": d.status,
        "opened_seq": d.opened_seq,
        "closed_seq": d.closed_seq,
    }


def case_row(case: Case, now: datetime) -> dict[str, Any]:
    return {
        "state": case.state,
        "closure_reason": case.closure_reason,
        "version": case.version,
        "updated_at": now,
        "breach_count": len(case.breaches),
        "snapshot": case.to_dict(),
    }


def case_values(case: Case, now: datetime, version_before: int) -> tuple[Any, ...]:
    """``case_row`` and the key of ``SAVE`` as one tuple, in ``SAVE_ROWS``' order."""
    return (
        case.state,
        case.closure_reason,
        case.version,
        now,
        len(case.breaches),
        case.to_dict(),
        case.id,
        version_before,
    )


def event_rows(case: Case, records: Sequence[EventRecord]) -> list[dict[str, Any]]:
    return [
        {
            "case_id": r.case_id,
            "seq": r.seq,
            "name": r.name,
            "data": r.data,
            "occurred_at": r.occurred_at,
            "recorded_at": r.recorded_at,
            "actor": r.actor,
            "policy_id": case.policy_id,
            "policy_version": case.policy_version,
            "state_before": r.state_before,
            "state_after": r.state_after,
        }
        for r in records
    ]


def record_from_row(row: Any) -> EventRecord:
    return EventRecord(
        case_id=row.case_id,
        seq=row.seq,
        name=row.name,
        data=dict(row.data),
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        actor=row.actor,
        state_before=row.state_before,
        state_after=row.state_after,
        meta={"id": row.id, "policy_id": row.policy_id, "policy_version": row.policy_version},
    )
