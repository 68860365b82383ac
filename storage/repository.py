"""Reading and writing cases, their events and deadlines on one connection.

A command costs its round trips: one read of the case snapshot, one insert per
event, one snapshot update guarded by the version it read (a stale write
raises ``VersionConflict`` and nothing is merged), and only the deadline rows
that changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.hashing import link
from storage.tables import cases, deadlines, events
from workflow.case import Case, Deadline
from workflow.errors import CaseNotFound, VersionConflict
from workflow.history import EventRecord

# Statements built once: building SQLAlchemy expressions costs more than running them on SQLite.
_GET = sa.select(cases.c.snapshot).where(cases.c.id == sa.bindparam("b_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_SAVE = (
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
_DEADLINE_STATUS = (
    sa.update(deadlines)
    .where(deadlines.c.case_id == sa.bindparam("b_case"), deadlines.c.number == sa.bindparam("b_number"))
    .values(status=sa.bindparam("b_status"), closed_seq=sa.bindparam("b_closed"))
)


def _deadline_row(case_id: str, d: Deadline) -> dict[str, Any]:
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


def _case_row(case: Case, now: datetime) -> dict[str, Any]:
    return {
        "state": case.state,
        "closure_reason": case.closure_reason,
        "version": case.version,
        "updated_at": now,
        "breach_count": len(case.breaches),
        "snapshot": case.to_dict(),
    }


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


class CaseRepository:
    def __init__(self, connection: sa.Connection, lock_rows: bool) -> None:
        self.connection = connection
        self.lock_rows = lock_rows  # SELECT ... FOR UPDATE (PostgreSQL); SQLite locks the file instead

    def get(self, case_id: str, for_update: bool = False) -> Case:
        query = _GET_FOR_UPDATE if for_update and self.lock_rows else _GET
        snapshot = self.connection.execute(query, {"b_id": case_id}).scalar_one_or_none()
        if snapshot is None:
            raise CaseNotFound(f"no case {case_id!r}")
        return Case.from_dict(snapshot)

    def get_for_update_skip_locked(self, case_id: str) -> Case | None:
        """The case, or None when another instance holds it (PostgreSQL) or it was deleted."""
        query = sa.select(cases.c.snapshot).where(cases.c.id == case_id)
        if self.lock_rows:
            query = query.with_for_update(skip_locked=True)
        snapshot = self.connection.execute(query).scalar_one_or_none()
        return Case.from_dict(snapshot) if snapshot is not None else None

    def exists(self, case_id: str) -> bool:
        return self.connection.execute(sa.select(cases.c.id).where(cases.c.id == case_id)).first() is not None

    def add(self, case: Case, records: Sequence[EventRecord], now: datetime) -> None:
        row = _case_row(case, now)
        row.update(id=case.id, policy_id=case.policy_id, policy_version=case.policy_version, opened_at=case.opened_at)
        self.connection.execute(sa.insert(cases), row)
        self._append(case, records)
        self._write_deadlines(None, case)

    def save(self, before: Case, after: Case, records: Sequence[EventRecord], now: datetime) -> None:
        result = self.connection.execute(
            _SAVE, {**_case_row(after, now), "b_id": after.id, "b_version": before.version}
        )
        if result.rowcount != 1:
            raise VersionConflict(f"case {after.id} changed since version {before.version}")
        self._append(after, records)
        self._write_deadlines(before, after)

    def _append(self, case: Case, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        rows = [
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
        link(self.connection, rows)  # prev_hash and hash: the tamper-evident chain (storage/hashing.py)
        self.connection.execute(sa.insert(events), rows)

    def _write_deadlines(self, before: Case | None, after: Case) -> None:
        known = {d.number: d.status for d in before.deadlines} if before else {}
        new = [_deadline_row(after.id, d) for d in after.deadlines if d.number not in known]
        if new:
            self.connection.execute(sa.insert(deadlines), new)
        changed = [
            {"b_case": after.id, "b_number": d.number, "b_status": d.status, "b_closed": d.closed_seq}
            for d in after.deadlines
            if d.number in known and known[d.number] != d.status
        ]
        if changed:
            self.connection.execute(_DEADLINE_STATUS, changed)

    def history(self, case_id: str) -> list[EventRecord]:
        rows = self.connection.execute(
            sa.select(events).where(events.c.case_id == case_id).order_by(events.c.seq)
        ).all()
        return [record_from_row(r) for r in rows]

    def due_case_ids(self, now: datetime, limit: int) -> list[str]:
        """Cases with an open deadline due at or before ``now``, earliest breach first."""
        first_due = sa.func.min(deadlines.c.breach_at)
        rows = self.connection.execute(
            sa.select(deadlines.c.case_id, first_due)
            .where(deadlines.c.status == "open", deadlines.c.breach_at <= now)
            .group_by(deadlines.c.case_id)
            .order_by(first_due, deadlines.c.case_id)
            .limit(limit)
        ).all()
        return [r[0] for r in rows]

    def claim(self, case_id: str, number: int, seq: int) -> bool:
        """Mark one open deadline passed; False when another firing got there first."""
        result = self.connection.execute(
            sa.update(deadlines)
            .where(deadlines.c.case_id == case_id, deadlines.c.number == number, deadlines.c.status == "open")
            .values(status="passed", closed_seq=seq)
        )
        return result.rowcount == 1

    def open_deadlines(
        self, due_before: datetime | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[Any]:
        query = sa.select(deadlines).where(deadlines.c.status == "open")
        if due_before is not None:
            query = query.where(deadlines.c.breach_at <= due_before)
        if kind is not None:
            query = query.where(deadlines.c.kind == kind)
        query = query.order_by(deadlines.c.breach_at, deadlines.c.case_id, deadlines.c.number)
        if limit is not None:
            query = query.limit(limit)
        return list(self.connection.execute(query).all())

    def next_breach_at(self) -> datetime | None:
        return self.connection.execute(
            sa.select(sa.func.min(deadlines.c.breach_at)).where(deadlines.c.status == "open")
        ).scalar_one_or_none()

    def list_cases(self, filters: Iterable[Any], limit: int, offset: int) -> list[Any]:
        query = sa.select(cases).where(*filters).order_by(cases.c.opened_at, cases.c.id).limit(limit).offset(offset)
        return list(self.connection.execute(query).all())

    def count_cases(self, filters: Iterable[Any]) -> int:
        return self.connection.execute(sa.select(sa.func.count()).select_from(cases).where(*filters)).scalar_one()
