"""Due-soon reminders: one ``deadline_due_soon`` notification per open obligation, at its reminder instant.

Not events of the case: its history, replay and hash chain do not change. They are rows of
``notifications`` (unique per type, case and deadline, so two instances or a restart never write one
twice), and the feed serves them among the events (storage/feed_queries.py), so webhooks deliver them
too. A deadline met, moved or cancelled before its instant is no longer open and is never reminded.
The background worker of ``complaints serve`` runs ``sweep`` at every London midnight (when reminders
fall) and every minute (for a deadline opened after its reminder instant, which is reminded at once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.feed import DUE_SOON
from service.logs import get_logger
from storage.feed_queries import insert_notification
from storage.tables import cases, deadlines, notifications
from storage.write_lock import write_transaction
from workflow.calendar import local_date
from workflow.case import OPEN, Case
from workflow.catalog import Catalog
from workflow.due_soon import latest_due_to_remind, reminder_instant
from workflow.vocabulary import WINDOWS

_CANDIDATES = (
    sa.select(
        deadlines.c.case_id,
        deadlines.c.number,
        deadlines.c.kind,
        deadlines.c.stage,
        deadlines.c.due,
        deadlines.c.breach_at,
        cases.c.policy_id,
        cases.c.policy_version,
        cases.c.snapshot,
    )
    .join(cases, cases.c.id == deadlines.c.case_id)
    .where(
        deadlines.c.status == OPEN,
        deadlines.c.kind.not_in(sorted(WINDOWS)),
        deadlines.c.breach_at > sa.bindparam("c_now"),
        deadlines.c.due <= sa.bindparam("c_due_by"),
        ~sa.exists().where(
            notifications.c.type == DUE_SOON,
            notifications.c.case_id == deadlines.c.case_id,
            notifications.c.deadline_number == deadlines.c.number,
        ),
    )
    .order_by(deadlines.c.breach_at, deadlines.c.case_id, deadlines.c.number)
)


def _handler(snapshot: Any, stage: int) -> str | None:
    try:
        handlers = Case.from_dict(snapshot).stage_handlers(stage)
    except Exception:  # a snapshot that does not load: the reminder still goes, without a handler
        return None
    return handlers[-1].name if handlers else None


class DueSoon:
    def __init__(self, engine: Engine, catalog: Catalog) -> None:
        self.engine = engine
        self.catalog = catalog
        self.log = get_logger("complaints.due_soon")

    def sweep(self, now: datetime) -> int:
        """Write the reminders whose instant has come (once each); how many were new."""
        lead_max = max([p.due_soon_working_days for p in self.catalog.all()] + [1])
        written = 0
        with write_transaction(self.engine) as connection:  # SQLite: the process's writer lock first
            params = {"c_now": now, "c_due_by": latest_due_to_remind(local_date(now), lead_max)}
            for row in connection.execute(_CANDIDATES, params).all():
                try:
                    policy = self.catalog.get(row.policy_id, row.policy_version)
                except Exception:
                    continue  # a policy file gone: firing logs that case; no reminder
                instant = reminder_instant(policy.calendar, row.due, policy.due_soon_working_days)
                if instant is None or instant > now:
                    continue
                data = {
                    "case_id": row.case_id,
                    "kind": row.kind,
                    "deadline_number": row.number,
                    "due": row.due.isoformat(),
                    "breach_at": row.breach_at.isoformat().replace("+00:00", "Z"),
                    "handler": _handler(row.snapshot, row.stage),
                    "working_days_before": policy.due_soon_working_days,
                }
                note = {
                    "type": DUE_SOON,
                    "case_id": row.case_id,
                    "deadline_number": row.number,
                    "policy_id": row.policy_id,
                    "policy_version": row.policy_version,
                    "occurred_at": instant,
                    "recorded_at": now,
                    "data": data,
                }
                if insert_notification(connection, note):
                    written += 1
                    self.log.info("deadline_due_soon", case_id=row.case_id, kind=row.kind, due=data["due"])
        return written
