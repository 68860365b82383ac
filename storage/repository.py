"""Reading and writing cases, their events and deadlines on one connection.

A command costs its round trips: one read of the case snapshot, one insert per
event, one snapshot update guarded by the version it read (a stale write
raises ``VersionConflict`` and nothing is merged), and only the deadline rows
that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from storage.driver_rows import DriverStatement
from storage.hashing import link, link_many
from storage.idempotency import NOT_READ, NotRead, StoredResponse
from storage.tables import cases, deadlines, events, idempotency_keys
from workflow.audit.canonical import HASHED_FIELDS
from workflow.audit.history import EventRecord
from workflow.case import OPEN, PASSED, Case, Deadline
from workflow.errors import CaseNotFound, VersionConflict

# Statements built once: building SQLAlchemy expressions costs more than running them on SQLite.
_GET = sa.select(cases.c.snapshot).where(cases.c.id == sa.bindparam("b_id"))
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
# inline(): nothing reads an inserted event's id back, so no RETURNING (PostgreSQL) nor pre-executed sequence
_INSERT_EVENTS = sa.insert(events).inline()
_EVENT_KEYS = (*HASHED_FIELDS, "hash")  # an event row: the fields its hash covers, then the hash
_event_values = itemgetter(*_EVENT_KEYS)
# The same statements run with plain tuples (storage/driver_rows.py): a timers batch writes thousands of rows.
_SAVE_ROWS = DriverStatement(
    _SAVE, ("state", "closure_reason", "version", "updated_at", "breach_count", "snapshot", "b_id", "b_version")
)
_INSERT_EVENT_ROWS = DriverStatement(_INSERT_EVENTS, _EVENT_KEYS, column_keys=_EVENT_KEYS)
_DEADLINE_STATUS = (
    sa.update(deadlines)
    .where(deadlines.c.case_id == sa.bindparam("b_case"), deadlines.c.number == sa.bindparam("b_number"))
    .values(status=sa.bindparam("b_status"), closed_seq=sa.bindparam("b_closed"))
)


@dataclass(frozen=True)
class FiredCase:
    """What a batch firing did to one case: what it read (version, deadline statuses), the case after, its events.

    Only the version and the statuses of the case before are kept, not a copy of it: firing folds the case
    it read in place (service/firing.py), and these are all ``save_fired`` compares.
    """

    version_before: int
    statuses_before: dict[int, str]
    after: Case
    records: list[EventRecord]


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


def _case_values(case: Case, now: datetime, version_before: int) -> tuple[Any, ...]:
    """``_case_row`` and the key of ``_SAVE`` as one tuple, in ``_SAVE_ROWS``' order."""
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


def _event_rows(case: Case, records: Sequence[EventRecord]) -> list[dict[str, Any]]:
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


class CaseRepository:
    def __init__(self, connection: sa.Connection, lock_rows: bool) -> None:
        self.connection = connection
        self.lock_rows = lock_rows  # SELECT ... FOR UPDATE (PostgreSQL); SQLite locks the file instead
        self._heads: dict[tuple[str, int], str] = {}  # (case id, seq) -> hash, read with the firing snapshots
        self.key_read: StoredResponse | None | NotRead = NOT_READ  # the idempotency key read by ``get``

    def get(self, case_id: str, for_update: bool = False, key: str | None = None) -> Case:
        """The case's snapshot; ``for_update`` (a command about to write it): locked, with its chain head.

        The chain head (the hash of the event at seq = version) comes in the same query, so appending the
        command's events reads nothing more (``link`` falls back to a read when it is missing). ``key``: an
        idempotency key whose row is read in the same statement too, left in ``key_read``.
        """
        if not for_update:
            snapshot = self.connection.execute(_GET, {"b_id": case_id}).scalar_one_or_none()
            if snapshot is None:
                raise CaseNotFound(f"no case {case_id!r}")
            return Case.from_dict(snapshot)
        if key is None:
            query, params = (_GET_LOCKED if self.lock_rows else _GET_HEAD), {"b_id": case_id}
        else:
            query, params = (_GET_LOCKED_KEY if self.lock_rows else _GET_HEAD_KEY), {"b_id": case_id, "b_key": key}
        row = self.connection.execute(query, params).first()
        if row is None:
            raise CaseNotFound(f"no case {case_id!r}")
        self._remember_head(row)
        if key is not None:
            self.key_read = self._key_read(row)
        return Case.from_dict(row.snapshot)

    def _key_read(self, row: Any) -> StoredResponse | None | NotRead:
        # On PostgreSQL the key's row is read in the statement's snapshot, as the chain head is: when the case row
        # was changed by a writer this statement waited for (the head is then NULL), that writer's key row may be
        # missing from it, so it is read afresh (NOT_READ). Any other answer is what a second query would see,
        # apart from commits racing it, which the key's primary key settles at ``record`` as before.
        if self.lock_rows and row.head is None:
            return NOT_READ
        if row.key_request_hash is None:
            return None
        return StoredResponse(row.key_request_hash, row.key_status_code, row.key_response)

    def _remember_head(self, row: Any) -> None:
        # On PostgreSQL a row locked after waiting for a concurrent writer is that writer's new version, while the
        # subquery still reads the statement's snapshot, which cannot see the writer's event: the head is then
        # NULL (never a wrong hash, since it is keyed by the new version) and ``link`` reads it afresh.
        if row.head is not None:
            self._heads[(row.id, row.version)] = row.head

    def exists(self, case_id: str) -> bool:
        return self.connection.execute(sa.select(cases.c.id).where(cases.c.id == case_id)).first() is not None

    def add(self, case: Case, records: Sequence[EventRecord], now: datetime, external_ref: str | None = None) -> None:
        row = _case_row(case, now)
        row.update(id=case.id, policy_id=case.policy_id, policy_version=case.policy_version, opened_at=case.opened_at)
        row["external_ref"] = external_ref
        self.connection.execute(sa.insert(cases), row)
        self._append(case, records)
        self._write_deadlines(None, case)

    def save(self, before: Case, after: Case, records: Sequence[EventRecord], now: datetime) -> None:
        if _SAVE_ROWS.execute(self.connection, [_case_values(after, now, before.version)]) != 1:
            raise VersionConflict(f"case {after.id} changed since version {before.version}")
        self._append(after, records)
        self._write_deadlines(before, after)

    def _append(self, case: Case, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        rows = _event_rows(case, records)
        link(self.connection, rows, self._heads)  # prev_hash and hash: the tamper-evident chain (storage/hashing.py)
        _INSERT_EVENT_ROWS.execute(self.connection, [_event_values(row) for row in rows])

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

    # -- the timers: what is due, and firing many cases at once (service.fire_due) -------------

    def next_due_instant(self, until: datetime, after: datetime | None = None) -> datetime | None:
        """The earliest breach instant of an open deadline in ``(after, until]``: firing goes instant by instant."""
        return self.connection.execute(_NEXT_DUE, {"c_until": until, "c_after": after or _EPOCH}).scalar_one_or_none()

    def case_ids_due(self, until: datetime, after_id: str, limit: int) -> list[str]:
        """Cases with an open deadline due at or before ``until``, by id after ``after_id`` (keyset pages)."""
        rows = self.connection.execute(_DUE_IDS, {"c_until": until, "c_after_id": after_id, "c_limit": limit})
        return list(rows.scalars())

    def upcoming_instants(self, after: datetime, limit: int) -> list[datetime]:
        """The distinct breach instants of open deadlines after ``after``, earliest first (what the timers plan)."""
        return list(self.connection.execute(_UPCOMING, {"c_after": after, "c_limit": limit}).scalars())

    def snapshots_for_firing(self, case_ids: Sequence[str]) -> dict[str, Any]:
        """Snapshots of the cases, locked; on PostgreSQL those another instance holds are left out (SKIP LOCKED).

        The same query reads the hash of each case's last event (seq = version), which ``save_fired`` chains
        the new events to: no second read of the events table for the batch.
        """
        query = _FIRING_LOCKED if self.lock_rows else _FIRING
        snapshots: dict[str, Any] = {}
        for row in self.connection.execute(query, {"c_ids": list(case_ids)}):
            snapshots[row.id] = row.snapshot
            self._remember_head(row)
        return snapshots

    def existing_ids(self, case_ids: Sequence[str]) -> set[str]:
        return set(self.connection.execute(_EXISTING, {"c_ids": list(case_ids)}).scalars())

    def save_fired(self, changes: Sequence[FiredCase], now: datetime) -> None:
        """Write what a batch of cases did when their deadlines passed, a few statements for the whole batch.

        Every passed deadline is claimed first (``UPDATE ... WHERE status = 'open'``); a claim that finds it
        no longer open means another firing won, and ``VersionConflict`` rolls the batch back. Then the
        snapshots (guarded by the version read, as ``save``), the events and any other deadline changes.
        """
        if not changes:
            return
        claims: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []  # deadlines the passing opened (a provisional response, an update)
        changed: list[dict[str, Any]] = []  # other status changes (a move that cancels)
        for change in changes:
            known, after = change.statuses_before, change.after
            for d in after.deadlines:
                was = known.get(d.number)
                if was is None:
                    new.append(_deadline_row(after.id, d))
                elif was == OPEN and d.status == PASSED:
                    claims.append((after.id, d.number, d.closed_seq))
                elif was != d.status:
                    changed.append(
                        {"b_case": after.id, "b_number": d.number, "b_status": d.status, "b_closed": d.closed_seq}
                    )
        if claims and _CLAIM_ROWS.execute(self.connection, claims) != len(claims):
            raise VersionConflict("a deadline of this batch was fired elsewhere")
        rows = [_case_values(c.after, now, c.version_before) for c in changes]
        if _SAVE_ROWS.execute(self.connection, rows) != len(rows):
            raise VersionConflict("a case of this batch changed while its deadlines fired")
        event_rows = [row for c in changes for row in _event_rows(c.after, c.records)]
        link_many(self.connection, event_rows, self._heads)  # the hash chain (storage/hashing.py)
        _INSERT_EVENT_ROWS.execute(self.connection, [_event_values(row) for row in event_rows])
        if new:
            self.connection.execute(sa.insert(deadlines), new)
        if changed:
            self.connection.execute(_DEADLINE_STATUS, changed)


# Statements of the timers' methods above, built once.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OPEN_DEADLINE = deadlines.c.status == OPEN
_NEXT_DUE = sa.select(sa.func.min(deadlines.c.breach_at)).where(
    _OPEN_DEADLINE, deadlines.c.breach_at <= sa.bindparam("c_until"), deadlines.c.breach_at > sa.bindparam("c_after")
)
_DUE_IDS = (
    sa.select(deadlines.c.case_id)
    .distinct()
    .where(
        _OPEN_DEADLINE,
        deadlines.c.breach_at <= sa.bindparam("c_until"),
        deadlines.c.case_id > sa.bindparam("c_after_id"),
    )
    .order_by(deadlines.c.case_id)
    .limit(sa.bindparam("c_limit"))
)
_UPCOMING = (
    sa.select(deadlines.c.breach_at)
    .distinct()
    .where(_OPEN_DEADLINE, deadlines.c.breach_at > sa.bindparam("c_after"))
    .order_by(deadlines.c.breach_at)
    .limit(sa.bindparam("c_limit"))
)
_HEAD = (  # the hash of the case's last event: its seq is the case's version
    sa.select(events.c.hash)
    .where(events.c.case_id == cases.c.id, events.c.seq == cases.c.version)
    .correlate(cases)
    .scalar_subquery()
    .label("head")
)
_FIRING = sa.select(cases.c.id, cases.c.version, cases.c.snapshot, _HEAD).where(
    cases.c.id.in_(sa.bindparam("c_ids", expanding=True))
)
_FIRING_LOCKED = _FIRING.with_for_update(of=cases, skip_locked=True)
_GET_HEAD = sa.select(cases.c.id, cases.c.version, cases.c.snapshot, _HEAD).where(cases.c.id == sa.bindparam("b_id"))
_GET_LOCKED = _GET_HEAD.with_for_update(of=cases)
# The same with an idempotency key's row (storage/idempotency.py), joined whether or not it exists.
_GET_HEAD_KEY = (
    sa.select(
        cases.c.id,
        cases.c.version,
        cases.c.snapshot,
        _HEAD,
        idempotency_keys.c.request_hash.label("key_request_hash"),
        idempotency_keys.c.status_code.label("key_status_code"),
        idempotency_keys.c.response.label("key_response"),
    )
    .select_from(cases.outerjoin(idempotency_keys, idempotency_keys.c.key == sa.bindparam("b_key")))
    .where(cases.c.id == sa.bindparam("b_id"))
)
_GET_LOCKED_KEY = _GET_HEAD_KEY.with_for_update(of=cases)
_EXISTING = sa.select(cases.c.id).where(cases.c.id.in_(sa.bindparam("c_ids", expanding=True)))
_CLAIM = (
    sa.update(deadlines)
    .where(
        deadlines.c.case_id == sa.bindparam("c_case"),
        deadlines.c.number == sa.bindparam("c_number"),
        _OPEN_DEADLINE,
    )
    .values(status=PASSED, closed_seq=sa.bindparam("c_seq"))
)
_CLAIM_ROWS = DriverStatement(_CLAIM, ("c_case", "c_number", "c_seq"))
