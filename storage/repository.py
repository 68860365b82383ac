"""Reading and writing cases, their events and deadlines on one connection.

A command costs its round trips: one read of the case snapshot, one insert per
event, one snapshot update guarded by the version it read (a stale write
raises ``VersionConflict`` and nothing is merged), and only the deadline rows
that changed. The rows themselves are built in storage/case_rows.py; the
timers' batch methods are in storage/firing_rows.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage import idempotency
from storage.case_rows import (
    DEADLINE_STATUS,
    HEAD,
    INSERT_EVENT_ROWS,
    SAVE_KEYED_ROWS,
    SAVE_ROWS,
    case_row,
    case_values,
    deadline_row,
    event_rows,
    event_values,
    record_from_row,
)
from storage.firing_rows import FiredCase, FiringRows
from storage.hashing import link
from storage.idempotency import NOT_READ, NotRead, StoredResponse
from storage.tables import cases, deadlines, events, idempotency_keys
from workflow.audit.history import EventRecord
from workflow.case import Case
from workflow.errors import CaseNotFound, VersionConflict

__all__ = ["CaseRepository", "FiredCase", "record_from_row"]

# Statements built once (see storage/case_rows.py).
_GET = sa.select(cases.c.snapshot).where(cases.c.id == sa.bindparam("b_id"))
_GET_HEAD = sa.select(cases.c.id, cases.c.version, cases.c.snapshot, HEAD).where(cases.c.id == sa.bindparam("b_id"))
_GET_LOCKED = _GET_HEAD.with_for_update(of=cases)
# The same with an idempotency key's row (storage/idempotency.py), joined whether or not it exists.
_GET_HEAD_KEY = (
    sa.select(
        cases.c.id,
        cases.c.version,
        cases.c.snapshot,
        HEAD,
        idempotency_keys.c.request_hash.label("key_request_hash"),
        idempotency_keys.c.status_code.label("key_status_code"),
        idempotency_keys.c.response.label("key_response"),
    )
    .select_from(cases.outerjoin(idempotency_keys, idempotency_keys.c.key == sa.bindparam("b_key")))
    .where(cases.c.id == sa.bindparam("b_id"))
)
_GET_LOCKED_KEY = _GET_HEAD_KEY.with_for_update(of=cases)


class CaseRepository(FiringRows):
    """A case's snapshot, events and deadlines: read for a command, written back guarded by its version."""

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

    def exists(self, case_id: str) -> bool:
        return self.connection.execute(sa.select(cases.c.id).where(cases.c.id == case_id)).first() is not None

    def add(self, case: Case, records: Sequence[EventRecord], now: datetime, external_ref: str | None = None) -> None:
        row = case_row(case, now)
        row.update(id=case.id, policy_id=case.policy_id, policy_version=case.policy_version, opened_at=case.opened_at)
        row["external_ref"] = external_ref
        self.connection.execute(sa.insert(cases), row)
        self._append(case, records)
        self._write_deadlines(None, case)

    def save(
        self,
        before: Case,
        after: Case,
        records: Sequence[EventRecord],
        now: datetime,
        key: Sequence[Any] | None = None,
    ) -> bool | None:
        """Write the case back; ``key``: an idempotency key's row (``IdempotencyGuard.row``) to store with it.

        Answers whether the key's row went in (False: the key was stored first by another request), None
        without a key. On PostgreSQL the key's row is inserted by the snapshot's own update (``SAVE_KEYED``).
        """
        values = case_values(after, now, before.version)
        inserted: bool | None = None
        if key is not None and self.connection.dialect.name == "postgresql":
            answer = SAVE_KEYED_ROWS.first(self.connection, (*values, *key))
            if answer is None:
                raise VersionConflict(f"case {after.id} changed since version {before.version}")
            inserted = answer[0] == 1
        else:
            if SAVE_ROWS.execute(self.connection, [values]) != 1:
                raise VersionConflict(f"case {after.id} changed since version {before.version}")
            if key is not None:
                inserted = idempotency.insert(self.connection, *key)
        self._append(after, records)
        self._write_deadlines(before, after)
        return inserted

    def _append(self, case: Case, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        rows = event_rows(case, records)
        link(self.connection, rows, self._heads)  # prev_hash and hash: the tamper-evident chain (storage/hashing.py)
        INSERT_EVENT_ROWS.execute(self.connection, [event_values(row) for row in rows])

    def _write_deadlines(self, before: Case | None, after: Case) -> None:
        known = {d.number: d.status for d in before.deadlines} if before else {}
        new = [deadline_row(after.id, d) for d in after.deadlines if d.number not in known]
        if new:
            self.connection.execute(sa.insert(deadlines), new)
        changed = [
            {"b_case": after.id, "b_number": d.number, "b_status": d.status, "b_closed": d.closed_seq}
            for d in after.deadlines
            if d.number in known and known[d.number] != d.status
        ]
        if changed:
            self.connection.execute(DEADLINE_STATUS, changed)

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
