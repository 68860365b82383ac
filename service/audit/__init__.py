"""The audit queries: verify, replay at a moment, timeline, what-if. Read-only, for CLI and HTTP alike.

Nothing here writes: every answer is a fold of the stored events through the
engine (``workflow.audit.history``), compared with or shown beside what the store
holds. ``verify`` of a whole store reads a page of cases at a time and may
spread the pages over worker processes (each opens its own connections).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from service.audit.checkpoint import Checkpoint
from service.audit.scan import VerifyReport, read_connection, verify_pages, verify_parallel, verify_stored
from service.audit.verify import Problem, verify_case
from service.views import case_view
from storage.audit_reads import StoredCase, case_ids, load_cases
from storage.case_rows import record_from_row
from workflow.audit.history import EventRecord
from workflow.audit.timeline import Entry, replay_at, timeline
from workflow.audit.whatif import WhatIf, summary, what_if
from workflow.case import Case
from workflow.catalog import Catalog
from workflow.errors import CaseNotFound, ComplaintsError, EventRefused

PAGE = 500  # cases per read while verifying a whole store


class InvalidInstant(ComplaintsError):
    """An ``as_of``/``known_at`` that is not an ISO 8601 instant with an offset."""

    code = "invalid_data"


class HistoryDoesNotReplay(ComplaintsError):
    """The stored events do not fold (tampering or a bug): ``verify`` says where."""

    code = "history_does_not_replay"


def _refused(case_id: str, refusal: EventRefused) -> HistoryDoesNotReplay:
    return HistoryDoesNotReplay(
        f"case {case_id}: its stored history does not replay ({', '.join(refusal.reasons)}); "
        f"run complaints verify --case {case_id}"
    )


def _unreadable(case_id: str, seq: int, what: str) -> HistoryDoesNotReplay:
    return HistoryDoesNotReplay(f"case {case_id}: event {seq}'s {what}; run complaints verify --case {case_id}")


def parse_instant(text: str | None, name: str) -> datetime | None:
    if text is None or text == "":
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInstant(f"{name}: {text!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:
        raise InvalidInstant(f"{name}: {text!r} needs a UTC offset (e.g. Z or +01:00)")
    return instant


class AuditService:
    def __init__(self, engine: Engine, catalog: Catalog) -> None:
        self.engine = engine
        self.catalog = catalog

    # -- verify ------------------------------------------------------------------

    def verify(
        self,
        case_id: str | None = None,
        jobs: int = 1,
        checkpoint: Checkpoint | None = None,
        on_page: Callable[[VerifyReport], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> VerifyReport:
        """The hash chain and replay-equals-store for one case (``CaseNotFound`` if absent) or all.

        With a ``checkpoint``, each case is also held to what it recorded, unchanged cases are not replayed,
        and (whole store) a case it knows that is gone from the store is reported. A whole-store run tells
        ``on_total`` how many cases it will verify, then ``on_page`` each page's part as it is done (progress).
        """
        known = checkpoint.cases if checkpoint is not None else {}
        record = checkpoint is not None  # what each clean case looks like, for the checkpoint to keep
        if case_id is not None:
            report = verify_stored([self._stored(case_id)], self.catalog, known, record)
        else:
            with read_connection(self.engine) as connection, connection.begin():
                ids = case_ids(connection)
            if on_total is not None:
                on_total(len(ids))
            pages = [(ids[i], ids[min(i + PAGE, len(ids)) - 1]) for i in range(0, len(ids), PAGE)]
            jobs = max(1, min(jobs, len(pages)))
            if jobs == 1:
                report = verify_pages(self.engine, self.catalog, pages, known, record, on_page)
            else:
                report = verify_parallel(self.engine, self.catalog, pages, jobs, known, on_page, record)
            present = set(ids)
            for gone in sorted(set(known) - present):
                detail = "the checkpoint recorded this case; it is not in the store"
                report.problems.append(Problem(gone, known[gone].version, "case_missing", detail))
        report.checkpoint = checkpoint is not None
        return report

    # -- one case ----------------------------------------------------------------

    def _stored(self, case_id: str) -> StoredCase:
        with read_connection(self.engine) as connection, connection.begin():
            found = load_cases(connection, [case_id])
        if not found:
            raise CaseNotFound(f"no case {case_id!r}")
        return found[0]

    def _records(self, stored: StoredCase) -> list[EventRecord]:
        records = []
        for row in stored.events:
            if not isinstance(row.data, dict):  # edited rows: say so, and where to look
                raise _unreadable(stored.id, row.seq, "data is not a JSON object")
            if row.occurred_at is None or row.recorded_at is None:
                raise _unreadable(stored.id, row.seq, "time is not an instant")
            record = record_from_row(row)
            record.meta["hash"] = row.hash
            records.append(record)
        return records

    def replay(self, case_id: str, as_of: datetime | None = None, known_at: datetime | None = None) -> dict[str, Any]:
        """The case as it stood: events that had occurred by ``as_of`` and been recorded by ``known_at``."""
        stored = self._stored(case_id)
        policy = self.catalog.get(stored.row.policy_id, stored.row.policy_version)
        try:
            moment = replay_at(case_id, policy, self._records(stored), as_of, known_at)
        except EventRefused as refusal:
            raise _refused(case_id, refusal) from None
        return {
            **case_view(moment.case),
            "as_of": as_of.isoformat() if as_of else None,
            "known_at": known_at.isoformat() if known_at else None,
            "events_folded": list(moment.folded),
            "events_left_out": list(moment.skipped),
        }

    def timeline(self, case_id: str) -> dict[str, Any]:
        """Every event with its deadlines opened, met (working days taken vs allowed) and breached."""
        stored = self._stored(case_id)
        policy = self.catalog.get(stored.row.policy_id, stored.row.policy_version)
        records = self._records(stored)
        problems = verify_case(stored, self.catalog)
        try:
            case = replay_at(case_id, policy, records).case
        except EventRefused:
            case = Case.from_dict(stored.row.snapshot)  # the history does not replay: show what the store says
        entries: list[Entry] = timeline(records, case, policy)
        return {
            "case": case_view(case),
            "events": [e.to_dict() for e in entries],
            "verified": not problems,
            "problems": [p.line() for p in problems],
            "head_hash": stored.events[-1].hash if stored.events else None,
        }

    def what_if(self, case_id: str, policy_ref: str, until: datetime | None = None) -> dict[str, Any]:
        stored = self._stored(case_id)
        original = self.catalog.get(stored.row.policy_id, stored.row.policy_version)
        other = self.catalog.resolve(policy_ref)
        try:
            result: WhatIf = what_if(case_id, original, other, self._records(stored), until)
        except EventRefused as refusal:  # the original side does not replay; the other side's refusals are caught
            raise _refused(case_id, refusal) from None
        return {
            "case_id": case_id,
            "policy": original.ref,
            "what_if_policy": other.ref,
            "until": result.until.isoformat() if result.until else None,
            "differs": result.differs,
            "original": summary(result.original),
            "what_if": summary(result.what_if),
            "steps": [s.to_dict() for s in result.steps],
        }


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
