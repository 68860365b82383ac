"""Moving in: open cases of a legacy system, imported with their history through the service's own path.

Each case is built as the running service would have built it: the simulated
clock stands at each event's ``occurred_at`` in turn, every deadline due by
then fires first (``ComplaintService._fire_case``, the same fold the timers and
``apply`` use), then the event is decided and applied
(``ComplaintService._apply_logged``) - so deadlines, breaches and reasons are
exactly the ones the service would have found, a breach the old system hid
included. After the last event the clock moves to the import instant and what
fell due meanwhile fires too. A case the policy refuses at any step is not
imported at all. Cases are written in batches, one transaction a batch and a
savepoint a case, so a case that fails to write takes only itself back.
Importing the same file again changes nothing: a case is known by its
``external_ref`` (and its case id is derived from it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from service.import_rows import Row
from storage.tables import cases
from storage.unit_of_work import UnitOfWorkFactory
from workflow.audit.history import EventRecord, new_case
from workflow.case import Case
from workflow.catalog import Catalog
from workflow.clock import Clock
from workflow.engine import due_deadlines
from workflow.errors import ComplaintsError, EventRefused
from workflow.policy import Policy
from workflow.vocabulary import CLIENT_EVENTS

NAMESPACE = uuid.UUID("6f1c2b1e-3d0a-4c55-9a43-9b7f0e1d2c10")
Progress = Callable[[int, int], None]  # rows done, cases done (since the last call)


class ImportHost(Protocol):
    """What importing needs of the service (service/complaints.py), as service/firing.py names it."""

    uow: UnitOfWorkFactory
    catalog: Catalog
    clock: Clock

    def _apply_logged(
        self,
        case: Case,
        policy: Policy,
        event: str,
        data: dict[str, Any],
        occurred_at: datetime,
        now: datetime,
        actor: str,
        records: list[EventRecord],
    ) -> Case: ...

    def _fire_case(
        self,
        case: Case,
        policy: Policy,
        now: datetime,
        records: list[EventRecord],
        until: datetime | None = None,
    ) -> Case: ...


@dataclass
class Reject:
    external_ref: str
    line: int
    event: str
    reasons: list[str]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "reasons": list(self.reasons)}


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    imported: int = 0
    events: int = 0
    breaches: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return len({r.external_ref or f"line {r.line}" for r in self.rejects})

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "cases_imported": self.imported,
            "cases_unchanged": self.unchanged,
            "cases_rejected": self.rejected,
            "events_written": self.events,
            "breaches_found": self.breaches,
            "states": dict(sorted(self.states.items())),
            "rejects": [r.to_dict() for r in self.rejects],
        }


def case_id_for(external_ref: str) -> str:
    """The case id an imported reference gets: the same on every import, so a re-import finds it."""
    return str(uuid.uuid5(NAMESPACE, external_ref))


@dataclass(frozen=True)
class Built:
    ref: str
    case: Case
    records: list[EventRecord]
    rows: int


def build_case(host: ImportHost, ref: str, rows: list[Row], now: datetime) -> Built:
    """Fold one case's rows as the running service would have; ``EventRefused`` names the refused row.

    ``rows`` are in ``occurred_at`` order (file order among equal instants).
    """
    first = rows[0]
    policy = first.policy
    assert policy is not None
    case = new_case(case_id_for(ref), policy)
    records: list[EventRecord] = []
    for index, row in enumerate(rows):
        at = row.occurred_at
        assert at is not None
        try:
            if row.policy is not None and row.policy.ref != policy.ref:
                raise EventRefused(["policy_differs"], {"policy": f"{row.policy.ref}, the case is {policy.ref}"})
            if at > now:
                raise EventRefused(["occurred_in_future"], {"occurred_at": f"later than now ({now.isoformat()})"})
            if index == 0 and row.event != "receive":
                raise EventRefused(["invalid_in_state"], {"event": "a case's first event must be receive"})
            if index > 0 and (row.event == "receive" or row.event not in CLIENT_EVENTS):
                raise EventRefused(["invalid_in_state"], {"event": f"{row.event} is not an event a client sends"})
            case = catch_up(host, case, policy, at, records)
            case = host._apply_logged(case, policy, row.event, row.data, at, at, row.actor, records)
        except EventRefused as refusal:
            refusal.details.setdefault("line", str(row.line))
            refusal.row = row  # type: ignore[attr-defined]
            raise
    case = catch_up(host, case, policy, now, records)  # what fell due up to the import instant
    return Built(ref, case, records, len(rows))


def catch_up(host: ImportHost, case: Case, policy: Policy, until: datetime, records: list[EventRecord]) -> Case:
    """Fire every deadline due by ``until`` as the timers would have: each at its own breach instant."""
    while due := due_deadlines(case, until):
        instant = due[0].breach_at
        case = host._fire_case(case, policy, instant, records)
    return case


def group(rows: Iterable[Row], result: ImportResult, progress: Progress | None = None) -> dict[str, list[Row]]:
    """Rows by case, each case in ``occurred_at`` order; a case with a malformed row is rejected whole."""
    by_case: dict[str, list[Row]] = {}
    bad: set[str] = set()
    for row in rows:
        result.rows += 1
        if row.problems:
            result.rejects.append(
                Reject(
                    row.external_ref,
                    row.line,
                    row.event,
                    [code for code, _ in row.problems],
                    "; ".join(detail for _, detail in row.problems),
                )
            )
            if row.external_ref:
                bad.add(row.external_ref)
            continue
        by_case.setdefault(row.external_ref, []).append(row)
    for ref in bad:
        by_case.pop(ref, None)
    for ref_rows in by_case.values():
        ref_rows.sort(key=lambda r: (r.occurred_at, r.line))
    return by_case


class Importer:
    def __init__(self, host: ImportHost, batch: int = 500) -> None:
        self.host = host
        self.batch = batch

    def run(self, rows: Iterable[Row], dry_run: bool = False, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(dry_run)
        by_case = group(rows, result)
        now = self.host.clock.now()
        refs = list(by_case)
        for start in range(0, len(refs), self.batch):
            chunk = refs[start : start + self.batch]
            known = self._known(chunk)
            built: list[Built] = []
            for ref in chunk:
                if ref in known:
                    result.unchanged += 1
                    continue
                try:
                    built.append(build_case(self.host, ref, by_case[ref], now))
                except EventRefused as refusal:
                    row = refusal.row  # type: ignore[attr-defined]
                    detail = "; ".join(f"{k}: {v}" for k, v in refusal.details.items() if k != "line")
                    result.rejects.append(Reject(ref, row.line, row.event, list(refusal.reasons), detail))
                except ComplaintsError as err:
                    row = by_case[ref][0]
                    result.rejects.append(Reject(ref, row.line, row.event, [err.code], err.detail))
            written = built if dry_run else self._write(built, now, result)
            for one in written:
                result.imported += 1
                result.events += len(one.records)
                result.breaches += len(one.case.breaches)
                result.states[one.case.state] = result.states.get(one.case.state, 0) + 1
            if progress is not None:
                progress(sum(len(by_case[ref]) for ref in chunk), len(chunk))
        return result

    def _known(self, refs: list[str]) -> set[str]:
        with self.host.uow(write=False) as uow:
            query = sa.select(cases.c.external_ref).where(cases.c.external_ref.in_(refs))
            return set(uow.connection.execute(query).scalars())

    def _write(self, built: list[Built], now: datetime, result: ImportResult) -> list[Built]:
        """One transaction for the batch, a savepoint per case: a case that cannot be written is only itself lost."""
        written: list[Built] = []
        with self.host.uow() as uow:
            for one in built:
                savepoint = uow.connection.begin_nested()
                try:
                    uow.cases.add(one.case, one.records, now, external_ref=one.ref)
                    savepoint.commit()
                    written.append(one)
                except sa.exc.IntegrityError as err:  # imported meanwhile by another run
                    savepoint.rollback()
                    first = one.records[0]
                    result.rejects.append(
                        Reject(one.ref, 0, first.name, ["already_imported"], str(err.orig).splitlines()[0])
                    )
            uow.commit()
        return written
