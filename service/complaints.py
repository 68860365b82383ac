"""The application layer: the one path every entry point (HTTP, CLI, scheduler, scenarios) uses.

Each command is one transaction: read the case once (locked for writing),
fire any of its deadlines already due, decide and apply the event, write the
event rows, snapshot and changed deadlines, commit. A refused event writes
nothing of its own; timers that were due before it are facts and are kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from service import firing
from service.firing import Fired
from service.logs import get_logger, log_committed
from service.views import case_view
from service.work import WorkPage, WorkQuery, work_page
from storage.queries import CasePage, CaseQuery, find_cases
from storage.unit_of_work import UnitOfWorkFactory
from workflow.audit.history import EventRecord, new_case
from workflow.case import Case
from workflow.catalog import Catalog
from workflow.clock import Clock
from workflow.engine import apply, decide, due_deadlines, passing_data
from workflow.errors import EventRefused, UnknownEvent, VersionConflict
from workflow.policy import Policy
from workflow.vocabulary import CLIENT_EVENTS, DEADLINE_PASSED, EVENTS

SCHEDULER_ACTOR = firing.SCHEDULER_ACTOR
DeadlinesChanged = Callable[[list[datetime]], None]


class CommandHook(Protocol):
    """Runs inside a command's transaction (the HTTP layer's idempotency keys, storage/idempotency.py).

    ``check`` once the case is read (and locked), ``record`` with the answer just before commit (an event post
    hands ``row`` to the case's own save, which may store it in the same statement, then calls ``recorded``);
    an exception from any of them rolls the whole command back. ``key``: read with the case (one statement),
    then handed to ``check`` as ``read`` (``NOT_READ``: ``check`` reads it itself).
    """

    key: str

    def check(self, connection: Any, read: Any = ...) -> None: ...

    def record(self, connection: Any, view: dict[str, Any]) -> None: ...

    def row(self, view: dict[str, Any]) -> Any:
        """What ``record`` would store, for the storage to write with the case (``CaseRepository.save``)."""

    def recorded(self, connection: Any, inserted: bool) -> None:
        """After the case was saved with ``row``: raise (rolling back) unless it went in."""


class ComplaintService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        catalog: Catalog,
        clock: Clock,
        on_deadlines: DeadlinesChanged | None = None,
    ) -> None:
        self.uow = uow
        self.catalog = catalog
        self.clock = clock
        self.on_deadlines = on_deadlines
        self.log = get_logger("complaints.service")

    # -- commands --------------------------------------------------------------

    def open_case(
        self,
        policy: str,
        data: dict[str, Any],
        occurred_at: datetime | None = None,
        actor: str = "system",
        case_id: str | None = None,
        hook: CommandHook | None = None,
    ) -> dict[str, Any]:
        chosen = self.catalog.resolve(policy)
        now = self.clock.now()
        case = new_case(case_id or str(uuid.uuid4()), chosen)
        records: list[EventRecord] = []
        after = self._apply_logged(case, chosen, "receive", data, occurred_at or now, now, actor, records)
        after = self._fire_case(after, chosen, now, records)
        view = case_view(after)
        with self.uow() as uow:
            if hook is not None:
                hook.check(uow.connection)
            if uow.cases.exists(after.id):
                raise VersionConflict(f"case {after.id} already exists")
            uow.cases.add(after, records, now)
            if hook is not None:
                hook.record(uow.connection, view)
            uow.commit()
        log_committed(self.log, records, now)
        self._announce(after)
        return view

    def apply(
        self,
        case_id: str,
        event: str,
        data: dict[str, Any],
        occurred_at: datetime | None = None,
        actor: str = "system",
        expected_version: int | None = None,
        hook: CommandHook | None = None,
    ) -> dict[str, Any]:
        if event not in CLIENT_EVENTS:
            if event in EVENTS:  # deadline_passed: only the scheduler writes it
                raise EventRefused(["invalid_in_state"], {"event": f"{event} is written by the scheduler"})
            raise UnknownEvent(f"unknown event {event!r}; events are: {', '.join(CLIENT_EVENTS)}")
        if event == "receive":
            raise EventRefused(["invalid_in_state"], {"event": "receive opens a new case: POST /cases"})
        attempts = 1 if expected_version is not None else 5
        for attempt in range(attempts):
            try:
                return self._apply_once(case_id, event, data, occurred_at, actor, expected_version, hook)
            except VersionConflict:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _apply_once(
        self,
        case_id: str,
        event: str,
        data: dict[str, Any],
        occurred_at: datetime | None,
        actor: str,
        expected_version: int | None,
        hook: CommandHook | None = None,
    ) -> dict[str, Any]:
        with self.uow() as uow:
            before = uow.cases.get(case_id, for_update=True, key=hook.key if hook is not None else None)
            if hook is not None:
                hook.check(uow.connection, uow.cases.key_read)
            if expected_version is not None and before.version != expected_version:
                raise VersionConflict(f"case {case_id} is at version {before.version}, not {expected_version}")
            policy = self.catalog.get(before.policy_id, before.policy_version)
            now = self.clock.now()
            records: list[EventRecord] = []
            case = self._fire_case(before, policy, now, records)
            try:
                case = self._apply_logged(case, policy, event, data, occurred_at or now, now, actor, records)
            except EventRefused:
                if records:  # the timers that were due stay fired
                    uow.cases.save(before, case, records, now)
                    uow.commit()
                    log_committed(self.log, records, now)
                raise
            case = self._fire_case(case, policy, now, records)
            view = case_view(case)
            inserted = uow.cases.save(before, case, records, now, key=hook.row(view) if hook is not None else None)
            if hook is not None:
                hook.recorded(uow.connection, bool(inserted))
            uow.commit()
        log_committed(self.log, records, now)
        self._announce(case)
        return view

    def fire_due(
        self, now: datetime | None = None, batch: int = 500, keep_going: Callable[[], bool] | None = None
    ) -> list[Fired]:
        """Every open deadline whose breach instant is at or before ``now``, in due order, once (service/firing.py).

        ``keep_going`` (the scheduler's stop flag) is asked between batches, so a shutdown need not wait
        for a long backlog; what was not fired stays open in the table and fires at the next start.
        """
        return firing.fire_due(self, now or self.clock.now(), batch, keep_going)

    def open_deadlines(
        self, due_before: datetime | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Open deadlines breaching at or before ``due_before``, earliest first (``complaints deadlines list``)."""
        with self.uow(write=False) as uow:
            rows = uow.cases.open_deadlines(due_before, kind, limit)
        keys = ("case_id", "number", "kind", "stage", "due", "breach_at")
        return [{k: getattr(r, k) for k in keys} for r in rows]

    def upcoming_instants(self, after: datetime, limit: int) -> list[datetime]:
        """The distinct breach instants still ahead: what the timers plan (scheduler/timers.py)."""
        with self.uow(write=False) as uow:
            return uow.cases.upcoming_instants(after, limit)

    # -- queries -----------------------------------------------------------------

    def get_case(self, case_id: str) -> dict[str, Any]:
        with self.uow(write=False) as uow:
            return case_view(uow.cases.get(case_id))

    def find_cases(self, query: CaseQuery, limit: int = 50, offset: int = 0) -> CasePage:
        """One page of the cases matching ``query`` (storage/queries.py), read from the snapshot columns."""
        with self.uow(write=False) as uow:
            return find_cases(uow.connection, query, limit, offset)

    def work(self, query: WorkQuery) -> WorkPage:
        """The work list: owed obligations in due order, working days left as of the clock (service/work.py)."""
        with self.uow(write=False) as uow:
            return work_page(uow.connection, self.catalog, query, self.clock.now())

    def load(self, case_id: str) -> Case:
        with self.uow(write=False) as uow:
            return uow.cases.get(case_id)

    def history(self, case_id: str) -> list[EventRecord]:
        with self.uow(write=False) as uow:
            uow.cases.get(case_id)  # CaseNotFound for an unknown id
            return uow.cases.history(case_id)

    def allowed(self, case_id: str) -> list[dict[str, Any]]:
        """Every event of the machine: allowed now or not, with the reasons (no data given)."""
        case = self.load(case_id)
        policy = self.catalog.get(case.policy_id, case.policy_version)
        now = self.clock.now()
        out = []
        for event in EVENTS:
            decision = decide(case, policy, event, {}, now, now, validate_data=False)
            reasons = list(decision.reasons)
            if event == "receive":
                reasons = ["invalid_in_state"]
            out.append({"event": event, "allowed": not reasons, "reasons": reasons, "details": decision.details})
        return out

    # -- internals -------------------------------------------------------------

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
    ) -> Case:
        if occurred_at.tzinfo is None:
            raise EventRefused(["invalid_data"], {"occurred_at": "needs a UTC offset"})
        try:
            after = apply(case, policy, event, data, occurred_at, now)
        except EventRefused as refusal:
            self.log.info(
                "event_refused",
                case_id=case.id,
                event_name=event,
                state_before=case.state,
                state_after=case.state,
                reasons=refusal.reasons,
                actor=actor,
            )
            raise
        records.append(self._record(case, after, event, data, occurred_at, now, actor))
        return after

    def _fire_case(
        self,
        case: Case,
        policy: Policy,
        now: datetime,
        records: list[EventRecord],
        until: datetime | None = None,
    ) -> Case:
        """Fold ``deadline_passed`` for each deadline due by ``until`` (default ``now``), each stamped with its instant.

        Nothing is logged here: the caller logs the records once they are committed (``log_committed``).
        """
        while due := due_deadlines(case, until or now):
            deadline = due[0]
            data = passing_data(deadline)
            after = apply(case, policy, DEADLINE_PASSED, data, deadline.breach_at, now, from_client=False)
            record = self._record(case, after, DEADLINE_PASSED, data, deadline.breach_at, now, SCHEDULER_ACTOR)
            records.append(replace(record, meta={"deadline_number": deadline.number}))
            case = after
        return case

    def _record(
        self,
        before: Case,
        after: Case,
        event: str,
        data: dict[str, Any],
        occurred_at: datetime,
        now: datetime,
        actor: str,
    ) -> EventRecord:
        return EventRecord(
            case_id=after.id,
            seq=after.version,
            name=event,
            data={k: v for k, v in data.items() if v is not None},
            occurred_at=occurred_at,
            recorded_at=now,
            actor=actor,
            state_before=before.state,
            state_after=after.state,
        )

    def _announce(self, case: Case) -> None:
        if self.on_deadlines is not None:
            self.on_deadlines([d.breach_at for d in case.open_deadlines()])
