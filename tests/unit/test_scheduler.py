"""The deadline timers on their own: a real APScheduler, a shifted clock, the service replaced by two callables.

The scheduler is handed ``fire_due`` and ``upcoming`` by the composition root, so
these tests hand it recorders; the database-backed behaviour is in
tests/integration/test_timers*.py and tests/e2e/test_timers*.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog.testing

from scheduler.clock import ShiftedClock, wall_time
from scheduler.timers import DeadlineTimers
from workflow.calendar import breach_instant
from workflow.clock import SystemClock

MIDNIGHT = datetime(2027, 3, 28, 23, 0, tzinfo=UTC)  # 29 March 2027 00:00 in London (BST since 28 March)


class Recorder:
    """Stands in for ``ComplaintService.fire_due``: records each call's ``now``."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[datetime] = []
        self.fail = fail
        self.called = threading.Event()

    def __call__(self, now: datetime, keep_going: Any = None) -> list[str]:
        self.calls.append(now)
        self.called.set()
        if self.fail:
            raise RuntimeError("database is locked\nsecond line")
        return []

    def wait_for(self, count: int, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.calls) >= count, f"fire_due called {len(self.calls)} times, wanted {count}"


@pytest.fixture
def stopping() -> Iterator[list[DeadlineTimers]]:
    made: list[DeadlineTimers] = []
    yield made
    for timers in made:
        timers.stop()


def test_shifted_clock_starts_where_told_and_maps_back_to_wall_time() -> None:
    clock = ShiftedClock(MIDNIGHT - timedelta(seconds=5), speed=60)
    assert abs((clock.now() - (MIDNIGHT - timedelta(seconds=5))).total_seconds()) < 1
    wall = wall_time(clock, MIDNIGHT)
    assert abs((wall - datetime.now(UTC)).total_seconds() - 5 / 60) < 0.5
    assert wall_time(SystemClock(), MIDNIGHT) == MIDNIGHT
    with pytest.raises(ValueError):
        ShiftedClock(datetime(2027, 1, 1))


def test_one_wake_up_per_distinct_breach_instant(stopping: list[DeadlineTimers]) -> None:
    timers = DeadlineTimers(SystemClock())
    stopping.append(timers)
    later = MIDNIGHT + timedelta(days=1)
    timers.deadlines_changed([MIDNIGHT, later, MIDNIGHT])
    timers.deadlines_changed([later])
    assert timers.planned() == [MIDNIGHT, later]


def test_start_sweeps_at_once_and_plans_what_the_table_holds(stopping: list[DeadlineTimers]) -> None:
    timers = DeadlineTimers(SystemClock(), sweep_seconds=3600)
    stopping.append(timers)
    fire = Recorder()
    ahead = [breach_instant(datetime.now(UTC).date() + timedelta(days=n)) for n in (1, 2, 3)]
    asked: list[tuple[datetime, int]] = []

    def upcoming(after: datetime, limit: int) -> list[datetime]:
        asked.append((after, limit))
        return ahead

    timers.start(fire, upcoming)
    fire.wait_for(1)
    deadline = time.monotonic() + 5
    while timers.planned() != ahead and time.monotonic() < deadline:
        time.sleep(0.01)
    assert timers.planned() == ahead
    assert asked and asked[0][1] == timers.horizon


def test_a_wake_up_fires_at_its_instant_not_before(stopping: list[DeadlineTimers]) -> None:
    clock = ShiftedClock(MIDNIGHT - timedelta(seconds=0.6))
    timers = DeadlineTimers(clock, sweep_seconds=3600)
    stopping.append(timers)
    fire = Recorder()
    timers.start(fire, lambda after, limit: [])
    fire.wait_for(1)  # the start sweep
    timers.deadlines_changed([MIDNIGHT])
    fire.wait_for(2)
    woke = fire.calls[1]
    assert MIDNIGHT <= woke < MIDNIGHT + timedelta(seconds=5)  # at the wake-up (the sweep is an hour away)
    assert timers.planned() == []


def test_the_sweep_drops_wake_ups_the_table_no_longer_needs(stopping: list[DeadlineTimers]) -> None:
    timers = DeadlineTimers(SystemClock(), sweep_seconds=3600)
    stopping.append(timers)
    gone, kept = (breach_instant(datetime.now(UTC).date() + timedelta(days=n)) for n in (5, 6))
    timers.deadlines_changed([gone, kept])
    timers.start(Recorder(), lambda after, limit: [kept])
    deadline = time.monotonic() + 5
    while timers.planned() != [kept] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert timers.planned() == [kept]


def test_a_failing_fire_is_logged_in_one_line_and_the_next_sweep_tries_again(stopping: list[DeadlineTimers]) -> None:
    timers = DeadlineTimers(SystemClock(), sweep_seconds=0.2)
    stopping.append(timers)
    fire = Recorder(fail=True)
    with structlog.testing.capture_logs() as logs:
        timers.start(fire, lambda after, limit: [])
        fire.wait_for(2)
        timers.stop()
    failures = [entry for entry in logs if entry["event"] == "fire_due_failed"]
    assert len(failures) >= 2
    assert failures[0]["error"] == "database is locked" and failures[0]["log_level"] == "error"


def test_stop_tells_a_running_fire_to_stop_between_batches(stopping: list[DeadlineTimers]) -> None:
    timers = DeadlineTimers(SystemClock(), sweep_seconds=3600)
    stopping.append(timers)
    answers: list[bool] = []
    started = threading.Event()

    def slow_fire(now: datetime, keep_going: Any = None) -> list[str]:
        started.set()
        while keep_going():
            time.sleep(0.01)
        answers.append(keep_going())
        return []

    timers.start(slow_fire, lambda after, limit: [])
    assert started.wait(5)
    timers.stop()
    assert answers == [False]
    assert not timers.running


def test_stop_while_a_sweep_is_replanning_does_not_deadlock() -> None:
    """shutdown(wait=True) holds APScheduler's job-store lock while it waits for the running sweep;
    a sweep that then drops a stale wake-up must not reach for that lock."""
    in_upcoming = threading.Event()

    def slow_upcoming(after: datetime, limit: int) -> list[datetime]:
        in_upcoming.set()
        time.sleep(0.5)  # stop() arrives now
        return []  # so every planned wake-up is stale and the sweep unplans it

    timers = DeadlineTimers(SystemClock(), sweep_seconds=3600)
    timers.deadlines_changed([datetime.now(UTC) + timedelta(days=1)])
    timers.start(Recorder(), slow_upcoming)
    assert in_upcoming.wait(5)
    stopper = threading.Thread(target=timers.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop() deadlocked with the running sweep"
