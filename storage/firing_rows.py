"""The timers' side of the repository: what falls due, and writing a whole batch of fired cases at once.

A mixin of ``CaseRepository`` (storage/repository.py), on the same connection: service/firing.py reads
the due cases' snapshots locked, folds each in memory, and hands back ``FiredCase`` changes that
``save_fired`` writes in a few statements for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from storage.case_rows import (
    DEADLINE_STATUS,
    HEAD,
    INSERT_EVENT_ROWS,
    SAVE_ROWS,
    case_values,
    deadline_row,
    event_rows,
    event_values,
)
from storage.driver_rows import DriverStatement
from storage.hashing import link_many
from storage.tables import cases, deadlines
from workflow.audit.history import EventRecord
from workflow.case import OPEN, PASSED, Case
from workflow.errors import VersionConflict


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


class FiringRows:
    """The timers' methods; ``CaseRepository`` sets the connection, the locking and the chain heads."""

    connection: sa.Connection
    lock_rows: bool
    _heads: dict[tuple[str, int], str]

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
                    new.append(deadline_row(after.id, d))
                elif was == OPEN and d.status == PASSED:
                    claims.append((after.id, d.number, d.closed_seq))
                elif was != d.status:
                    changed.append(
                        {"b_case": after.id, "b_number": d.number, "b_status": d.status, "b_closed": d.closed_seq}
                    )
        if claims and _CLAIM_ROWS.execute(self.connection, claims) != len(claims):
            raise VersionConflict("a deadline of this batch was fired elsewhere")
        rows = [case_values(c.after, now, c.version_before) for c in changes]
        if SAVE_ROWS.execute(self.connection, rows) != len(rows):
            raise VersionConflict("a case of this batch changed while its deadlines fired")
        written = [row for c in changes for row in event_rows(c.after, c.records)]
        link_many(self.connection, written, self._heads)  # the hash chain (storage/hashing.py)
        INSERT_EVENT_ROWS.execute(self.connection, [event_values(row) for row in written])
        if new:
            self.connection.execute(sa.insert(deadlines), new)
        if changed:
            self.connection.execute(DEADLINE_STATUS, changed)

    def _remember_head(self, row: Any) -> None:
        # On PostgreSQL a row locked after waiting for a concurrent writer is that writer's new version, while the
        # subquery still reads the statement's snapshot, which cannot see the writer's event: the head is then
        # NULL (never a wrong hash, since it is keyed by the new version) and ``link`` reads it afresh.
        if row.head is not None:
            self._heads[(row.id, row.version)] = row.head


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
_FIRING = sa.select(cases.c.id, cases.c.version, cases.c.snapshot, HEAD).where(
    cases.c.id.in_(sa.bindparam("c_ids", expanding=True))
)
_FIRING_LOCKED = _FIRING.with_for_update(of=cases, skip_locked=True)
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
