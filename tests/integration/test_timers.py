"""Deadlines fire once, in due order, stamped with their breach instant: on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog.testing

from api.bootstrap import App, Settings, bootstrap
from scheduler.clock import ShiftedClock
from scheduler.timers import DeadlineTimers
from storage.tables import events
from tests.integration.test_timers_support import POLICY, RECEIVE, passes, received_for, write_policy
from workflow.catalog import shipped
from workflow.clock import ManualClock
from workflow.vocabulary import DEADLINE_PASSED

DAY_1 = date(2027, 1, 11)
ACK = {"handler": "ann", "handler_role": "officer", "complaint_definition": "Damp"}
LETTER = {
    "decision": "upheld",
    "reasons": "damp found",
    "remedy": "treatment",
    "outstanding_actions": "none",
    "escalation_route": "stage 2",
}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "policies")


def make_app(db_url: str, policy_dir: Path, clock: object, **kwargs: object) -> App:
    return bootstrap(Settings(db_url=db_url, extra_policy_dir=str(policy_dir)), clock=clock, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def app(db_url: str, policy_dir: Path) -> Iterator[App]:
    app = make_app(db_url, policy_dir, ManualClock(received_for(DAY_1)))
    yield app
    app.engine.dispose()


def open_due(app: App, due: date) -> str:
    """A case whose acknowledgement is due on ``due`` (the clock moved to its receive instant first)."""
    at = received_for(due)
    if at > app.clock.now():
        app.clock.set(at)  # type: ignore[attr-defined]
    return app.service.open_case(POLICY, RECEIVE, occurred_at=at)["id"]


def passed_events(app: App) -> list[sa.Row]:
    with app.engine.connect() as c:
        return list(c.execute(sa.select(events).where(events.c.name == DEADLINE_PASSED).order_by(events.c.id)))


def test_overdue_deadlines_fire_once_in_due_order_each_stamped_with_its_instant(app: App) -> None:
    days = [DAY_1 + timedelta(days=n) for n in (0, 2, 1)]
    cases = {open_due(app, day): day for day in days}
    now = passes(DAY_1 + timedelta(days=3)) + timedelta(hours=5)
    app.clock.set(now)  # type: ignore[attr-defined]

    fired = app.service.fire_due(now)

    # each case: its acknowledgement, then the provisional response (due a day later) it opened
    assert sorted((f.case_id, f.kind) for f in fired) == sorted(
        (c, k) for c in cases for k in ("stage_1_acknowledgement", "stage_1_response")
    )
    stored = passed_events(app)
    assert [e.occurred_at for e in stored] == sorted(e.occurred_at for e in stored), "the log is in due order"
    for e in stored:
        assert e.occurred_at == passes(date.fromisoformat(e.data["due"]))
        assert e.recorded_at == now and e.actor == "scheduler"
    assert app.service.fire_due(now) == []
    assert len(passed_events(app)) == 6


def test_met_moved_or_withdrawn_deadlines_never_fire(app: App) -> None:
    met, withdrawn, extended, untouched = (open_due(app, DAY_1) for _ in range(4))
    app.service.apply(met, "acknowledge", ACK)
    app.service.apply(met, "respond", LETTER)
    app.service.apply(withdrawn, "withdraw", {"summary": "sorted"})
    app.service.apply(extended, "acknowledge", ACK)
    new_due = (DAY_1 + timedelta(days=10)).isoformat()
    app.service.apply(extended, "extend", {"new_due": new_due, "reason": "contractor", "customer_agreed": True})
    app.clock.set(passes(DAY_1 + timedelta(days=5)))  # type: ignore[attr-defined]

    fired = app.service.fire_due()

    assert {f.case_id for f in fired} == {untouched}
    assert [d["due"] for d in app.service.get_case(extended)["deadlines"]] == [new_due]


def test_an_informal_breach_moves_the_case_in_the_same_transaction(db_url: str, policy_dir: Path) -> None:
    app = make_app(db_url, policy_dir, ManualClock(datetime(2027, 1, 11, 10, tzinfo=UTC)))
    case_id = app.service.open_case("brighter_places", {"incident_date": "2027-01-04"})["id"]
    app.clock.set(datetime(2027, 1, 19, 9, tzinfo=UTC))  # type: ignore[attr-defined]

    (fired,) = app.service.fire_due()

    assert (fired.kind, fired.breach_at) == ("informal_response", passes(date(2027, 1, 18)))
    view = app.service.get_case(case_id)
    assert view["state"] == "stage_1" and view["version"] == 2
    assert (passed_events(app)[0].state_before, passed_events(app)[0].state_after) == ("stage_0", "stage_1")
    app.engine.dispose()


@pytest.mark.parametrize(
    ("due", "instant"),
    [
        (date(2027, 3, 27), datetime(2027, 3, 28, 0, 0, tzinfo=UTC)),  # GMT until 01:00 UTC on the 28th
        (date(2027, 3, 28), datetime(2027, 3, 28, 23, 0, tzinfo=UTC)),  # clocks went forward: BST midnight
        (date(2027, 10, 30), datetime(2027, 10, 30, 23, 0, tzinfo=UTC)),  # still BST at midnight
        (date(2027, 10, 31), datetime(2027, 11, 1, 0, 0, tzinfo=UTC)),  # clocks went back: GMT midnight
    ],
)
def test_deadlines_on_the_days_the_clocks_change_pass_at_local_midnight(app: App, due: date, instant: datetime) -> None:
    open_due(app, due)
    app.clock.set(instant - timedelta(microseconds=1))  # type: ignore[attr-defined]
    assert app.service.fire_due() == []
    app.clock.set(instant)  # type: ignore[attr-defined]
    (fired,) = app.service.fire_due()
    assert fired.breach_at == instant
    assert passed_events(app)[0].occurred_at == instant


@pytest.mark.parametrize("due", [date(2027, 3, 28), date(2027, 10, 31)], ids=["march", "october"])
def test_the_timers_wake_at_local_midnight_when_the_clocks_change(sqlite_url: str, policy_dir: Path, due: date) -> None:
    instant = passes(due)
    clock = ShiftedClock(instant - timedelta(seconds=5))  # the lead outlasts opening the case on a loaded machine
    timers = DeadlineTimers(clock, sweep_seconds=3600)
    app = make_app(sqlite_url, policy_dir, clock, on_deadlines=timers.deadlines_changed)
    timers.start(app.service.fire_due, app.service.upcoming_instants)
    try:
        # opened after the start sweep: only the command's hook can have planned this wake-up
        time.sleep(0.2)
        case_id = app.service.open_case(POLICY, RECEIVE, occurred_at=received_for(due))["id"]
        assert instant in timers.planned()
        deadline = time.monotonic() + 60
        while not passed_events(app) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        timers.stop()
        app.engine.dispose()
    (event,) = passed_events(app)
    assert event.case_id == case_id and event.occurred_at == instant
    # at the planned wake-up, not at the next hourly sweep (how late on a loaded machine is the benchmark's business)
    assert timedelta(0) <= event.recorded_at - instant < timedelta(seconds=60), "fired at local midnight"


def test_two_firers_at_once_fire_each_deadline_once(db_url: str, policy_dir: Path) -> None:
    app = make_app(db_url, policy_dir, ManualClock(received_for(DAY_1)))
    ids = {open_due(app, DAY_1) for _ in range(150)}
    now = passes(DAY_1) + timedelta(minutes=1)
    rivals = [make_app(db_url, policy_dir, ManualClock(now), migrate=False) for _ in range(2)]
    results: list[list[object]] = [[], []]
    start = threading.Barrier(2)

    def run(n: int) -> None:
        start.wait()
        results[n] = list(rivals[n].service.fire_due(now, batch=40))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(len(r) for r in results) == 150
    stored = passed_events(app)
    assert len(stored) == 150 and {e.case_id for e in stored} == ids
    for a in (app, *rivals):
        a.engine.dispose()


def test_a_case_whose_policy_file_is_gone_is_logged_and_skipped(db_url: str, policy_dir: Path) -> None:
    app = make_app(db_url, policy_dir, ManualClock(received_for(DAY_1)))
    orphan = open_due(app, DAY_1)
    shipped_case = app.service.open_case("code_2024", {"incident_date": "2027-01-04", "formal": True})["id"]
    later = passes(DAY_1 + timedelta(days=20))
    without = bootstrap(Settings(db_url=db_url), clock=ManualClock(later), catalog=shipped(), migrate=False)

    with structlog.testing.capture_logs() as logs:
        fired = without.service.fire_due()

    assert {f.case_id for f in fired} == {shipped_case}
    skipped = [e for e in logs if e["event"] == "deadline_skipped"]
    assert [(e["case_id"], e["reason"], e["log_level"]) for e in skipped] == [(orphan, "unknown_policy", "error")]
    for a in (app, without):
        a.engine.dispose()


def test_a_deadline_whose_case_was_deleted_is_logged_and_skipped(sqlite_url: str, policy_dir: Path) -> None:
    app = make_app(sqlite_url, policy_dir, ManualClock(received_for(DAY_1)))
    gone, kept = open_due(app, DAY_1), open_due(app, DAY_1)
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))  # foreign keys off: leaves its deadlines behind
    with raw:
        raw.execute("DELETE FROM events WHERE case_id = ?", (gone,))
        raw.execute("DELETE FROM cases WHERE id = ?", (gone,))
    raw.close()
    app.clock.set(passes(DAY_1))  # type: ignore[attr-defined]

    with structlog.testing.capture_logs() as logs:
        fired = app.service.fire_due()

    assert {f.case_id for f in fired} == {kept}
    skipped = [(e["case_id"], e["reason"]) for e in logs if e["event"] == "deadline_skipped"]
    assert skipped == [(gone, "case_not_found")]
    app.engine.dispose()
