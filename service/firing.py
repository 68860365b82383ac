"""Firing due deadlines: instant by instant, many cases a transaction, each deadline once.

``ComplaintService.fire_due`` lands here. The deadlines table says what is due;
firing walks the distinct breach instants at or before ``now`` in order, and at
each instant fires every case with a deadline due by then, a batch of cases
per transaction: lock the batch (``SKIP LOCKED`` on PostgreSQL, so a second
instance takes other cases), fold ``deadline_passed`` through the machine,
claim each passed deadline with ``UPDATE ... WHERE status = 'open'``, write
events, snapshots and deadlines, commit. Going by instant keeps the store-wide
log in due order after a long outage; batching is what makes 100,000 overdue
deadlines fire in under a minute. A batch that loses a race is rolled back and
retried case by case; a case that cannot be fired (deleted, its policy file
missing, a snapshot that does not load) is logged with its id and skipped, and
the others still fire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from service.collector import fewer_collections
from service.logs import log_committed
from storage.firing_rows import FiredCase
from storage.unit_of_work import UnitOfWork, UnitOfWorkFactory
from workflow.audit.history import EventRecord
from workflow.case import Case
from workflow.catalog import Catalog
from workflow.clock import Clock
from workflow.engine import advance, due_deadlines, passing_data
from workflow.errors import VersionConflict
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED


@dataclass(frozen=True)
class Fired:
    case_id: str
    kind: str
    due: str
    breach_at: datetime


class FiringHost(Protocol):
    """What firing needs of the service (service/complaints.py), named here so neither module imports the other."""

    uow: UnitOfWorkFactory
    catalog: Catalog
    clock: Clock
    log: Any

    def _announce(self, case: Case) -> None: ...


SCHEDULER_ACTOR = "scheduler"  # the actor recorded on every deadline_passed
ID_PAGE = 20_000  # case ids read per query at one instant; fired in batches of ``batch``
Change = FiredCase


def fire_due(
    service: FiringHost, now: datetime, batch: int, keep_going: Callable[[], bool] | None = None
) -> list[Fired]:
    """Every open deadline due at or before ``now``, in due order; ``keep_going`` can stop between batches.

    The garbage collector runs less often meanwhile (service/collector.py): a batch of 500 cases makes
    tens of thousands of short-lived objects, and a backlog's results grow the heap that each full pass
    walks.
    """
    with fewer_collections():
        return _fire_instants(service, now, batch, keep_going)


def _fire_instants(
    service: FiringHost, now: datetime, batch: int, keep_going: Callable[[], bool] | None
) -> list[Fired]:
    fired: list[Fired] = []
    skipped: set[str] = set()  # cases that cannot fire are logged once a call, not once an instant
    instant: datetime | None = None
    while keep_going is None or keep_going():
        with service.uow(write=False) as uow:
            instant = uow.cases.next_due_instant(now, after=instant)
        if instant is None:
            break
        after_id = ""
        while keep_going is None or keep_going():
            with service.uow(write=False) as uow:
                ids = uow.cases.case_ids_due(instant, after_id, ID_PAGE)
            if not ids:
                break
            after_id = ids[-1]
            ids = [case_id for case_id in ids if case_id not in skipped]
            for start in range(0, len(ids), batch):
                if keep_going is not None and not keep_going():
                    break
                fired += _fire_batch(service, ids[start : start + batch], instant, now, skipped)
    return fired


def _fire_batch(
    service: FiringHost, ids: Sequence[str], until: datetime, now: datetime, skipped: set[str]
) -> list[Fired]:
    stamp = max(now, service.clock.now())  # recorded_at: when this batch really fired
    try:
        with service.uow() as uow:
            changes = _fire_cases(service, uow, ids, until, stamp, skipped)
            uow.commit()
    except VersionConflict as err:  # another instance won part of the batch: retry each case on its own
        service.log.warning("fire_batch_conflict", error=err.detail, cases=len(ids))
        changes = []
        for case_id in ids:
            try:
                with service.uow() as uow:
                    one = _fire_cases(service, uow, [case_id], until, stamp, skipped)
                    uow.commit()
                changes += one
            except VersionConflict as conflict:
                service.log.warning("deadline_fired_elsewhere", case_id=case_id, error=conflict.detail)
    return _report(service, changes, stamp)


def _fire_cases(
    service: FiringHost,
    uow: UnitOfWork,
    ids: Sequence[str],
    until: datetime,
    stamp: datetime,
    skipped: set[str],
) -> list[Change]:
    snapshots = uow.cases.snapshots_for_firing(ids)
    missing = [case_id for case_id in ids if case_id not in snapshots]
    if missing:  # held by another instance (PostgreSQL), or deleted under its deadlines
        for case_id in sorted(set(missing) - uow.cases.existing_ids(missing)):
            service.log.error("deadline_skipped", case_id=case_id, reason="case_not_found")
            skipped.add(case_id)
    changes: list[Change] = []
    for case_id, snapshot in snapshots.items():
        change = _fire_snapshot(service, case_id, snapshot, until, stamp)
        if change is False:
            skipped.add(case_id)
        elif change is not None:
            changes.append(change)
    uow.cases.save_fired(changes, stamp)
    return changes


def _fire_snapshot(
    service: FiringHost, case_id: str, snapshot: Any, until: datetime, stamp: datetime
) -> Change | None | bool:
    """What firing did to the case; None when nothing was due, False when it cannot be fired (logged)."""
    try:
        case = Case.from_dict(snapshot)
        policy = service.catalog.get(case.policy_id, case.policy_version)
        version, statuses = case.version, {d.number: d.status for d in case.deadlines}
        records: list[EventRecord] = []
        _fold(case, policy, stamp, until, records)
    except Exception as err:  # one unreadable case (policy file gone, bad snapshot) must not stop the others
        reason = getattr(err, "code", type(err).__name__)
        service.log.error("deadline_skipped", case_id=case_id, reason=reason, error=str(err))
        return False
    return FiredCase(version, statuses, case, records) if records else None


def _fold(case: Case, policy: Policy, stamp: datetime, until: datetime, records: list[EventRecord]) -> None:
    """``deadline_passed`` for each deadline of the case due by ``until``, on the case itself.

    What ``ComplaintService._fire_case`` does, but folded in place with ``engine.advance`` (the replay's
    path): no copy of the case (the case was just read from its snapshot, and ``save_fired`` needs only its
    version and deadline statuses from before), and the state moved along the edge the machine's decision
    chose instead of running ``transitions`` again (tests/unit/test_machine_properties.py holds the two equal
    at every step). A batch of 500 cases spends most of its CPU here.

    A refusal (``EventRefused``) can leave the case part-folded: the caller then skips the case, whose
    snapshot is not written.
    """
    while due := due_deadlines(case, until):
        deadline = due[0]
        data = passing_data(deadline)
        state = case.state
        advance(case, policy, DEADLINE_PASSED, data, deadline.breach_at, stamp, from_client=False)
        records.append(
            EventRecord(
                case_id=case.id,
                seq=case.version,
                name=DEADLINE_PASSED,
                data=data,
                occurred_at=deadline.breach_at,
                recorded_at=stamp,
                actor=SCHEDULER_ACTOR,
                state_before=state,
                state_after=case.state,
                meta={"deadline_number": deadline.number},
            )
        )


def _report(service: FiringHost, changes: list[Change], stamp: datetime) -> list[Fired]:
    """After commit: one log line per deadline fired, and the timers told of the deadlines that opened."""
    fired: list[Fired] = []
    log = service.log.bind()  # one bound logger for the batch, not one built for every line
    for change in changes:
        after, records = change.after, change.records
        log_committed(log, records, stamp)
        passed = [r for r in records if r.name == DEADLINE_PASSED]
        fired += [Fired(after.id, r.data["deadline"], r.data["due"], r.occurred_at) for r in passed]
        service._announce(after)
    return fired
