"""The deadline timers: APScheduler 3.x as the alarm clock of the deadlines table.

The table is the source of truth (ARCHITECTURE.md, Timers); APScheduler only
holds wake-ups derived from it, in memory, and is rebuilt at every start. A
deadline passes at local midnight, so many deadlines share one breach instant:
we keep one date job per distinct instant, not one per deadline (100,000 open
deadlines over a year are a few hundred jobs). A wake-up runs the ``fire_due``
it was handed, which claims each due deadline in the database; a job that
finds nothing (its deadline was met, moved or withdrawn) costs one query.

Jobs come from three places: the service's hook after each command
(``deadlines_changed``: the breach instants of the case's open deadlines), the
sweep at start (fires whatever passed while the service was down, then plans
the next ``horizon`` instants from the table), and the same sweep every
``sweep_seconds`` as a safety net, which also picks up deadlines opened by
another instance and drops wake-ups the table no longer needs.

One worker thread runs the jobs, so one process never fires against itself;
other processes are kept apart by the database (``SKIP LOCKED`` and the claim).
The scheduler knows nothing of the service: it is handed two callables.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sized
from datetime import UTC, datetime
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.clock import wall_time
from workflow.clock import Clock

FireDue = Callable[..., Sized]  # fire_due(now, keep_going=...) -> what fired
Upcoming = Callable[[datetime, int], list[datetime]]  # (after, limit) -> distinct open breach instants
SWEEP_JOB = "sweep"


def _job_id(instant: datetime) -> str:
    return f"deadline:{instant.astimezone(UTC).isoformat()}"


class DeadlineTimers:
    def __init__(self, clock: Clock, sweep_seconds: float = 60.0, horizon: int = 1000) -> None:
        if sweep_seconds <= 0:
            raise ValueError("sweep_seconds must be positive")
        self.clock = clock
        self.sweep_seconds = sweep_seconds
        self.horizon = horizon
        self.log = structlog.get_logger("complaints.scheduler")
        self._fire_due: FireDue | None = None
        self._upcoming: Upcoming | None = None
        self._planned: dict[datetime, float] = {}  # breach instant -> when planned (time.monotonic)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # Held while checking _stopping and touching APScheduler's job store: shutdown(wait=True) holds the
        # store's lock while it waits for a running job, so a job must never reach the store after stop began.
        self._jobs_lock = threading.Lock()
        # APScheduler reports through stdlib logging; our own lines say what fired and what failed.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- life ------------------------------------------------------------------

    def start(self, fire_due: FireDue, upcoming: Upcoming) -> None:
        """Sweep at once (what passed while down fires now, in due order), then every ``sweep_seconds``."""
        self._fire_due, self._upcoming = fire_due, upcoming
        self._scheduler.add_job(
            self.sweep, "interval", seconds=self.sweep_seconds, id=SWEEP_JOB, next_run_time=datetime.now(UTC)
        )
        self._scheduler.start()
        self.log.info("timers_started", sweep_seconds=self.sweep_seconds)

    def stop(self) -> None:
        """Stop between batches: what has not fired stays open in the table and fires at the next start."""
        with self._jobs_lock:
            self._stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
            self.log.info("timers_stopped")

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def planned(self) -> list[datetime]:
        """The breach instants a wake-up is planned for, earliest first."""
        with self._lock:
            return sorted(self._planned)

    # -- the service's hook --------------------------------------------------------

    def deadlines_changed(self, breach_ats: Iterable[datetime]) -> None:
        """``bootstrap(on_deadlines=...)``: a command opened or moved deadlines with these breach instants."""
        for instant in breach_ats:
            self._plan(instant)

    # -- jobs --------------------------------------------------------------------

    def sweep(self) -> None:
        """Fire what is due, then make the planned wake-ups what the table says for the next instants."""
        self._run("sweep")
        if self._upcoming is None or self._stopping.is_set():
            return
        asked = time.monotonic()
        try:
            instants = self._upcoming(self.clock.now(), self.horizon)
        except Exception as err:  # the database went away: say so, and try again at the next sweep
            self.log.error("timers_plan_failed", error=_first_line(err), error_type=type(err).__name__)
            return
        for instant in instants:
            self._plan(instant)
        keep = set(instants)
        beyond = instants[-1] if len(instants) >= self.horizon else None
        with self._lock:
            stale = [
                i
                for i, planned_at in self._planned.items()
                if i not in keep and planned_at < asked and (beyond is None or i < beyond) and i > self.clock.now()
            ]
        for instant in stale:  # met, moved or withdrawn since it was planned
            self._unplan(instant)

    def _wake(self, instant: datetime) -> None:
        with self._lock:
            self._planned.pop(instant, None)
        early = (wall_time(self.clock, instant) - datetime.now(UTC)).total_seconds()
        if early > 0:  # a timer may wake a hair early; fire_due(now) would then find nothing
            self._stopping.wait(early)
        self._run("timer")

    def _run(self, why: str) -> None:
        if self._fire_due is None or self._stopping.is_set():
            return
        try:
            fired = self._fire_due(self.clock.now(), keep_going=lambda: not self._stopping.is_set())
        except Exception as err:  # logged, not raised: the next sweep tries again, the table still says what is due
            self.log.error("fire_due_failed", why=why, error=_first_line(err), error_type=type(err).__name__)
            return
        if len(fired):
            self.log.info("deadlines_fired", why=why, count=len(fired))

    def _plan(self, instant: datetime) -> None:
        with self._lock:
            if instant in self._planned:
                return
            self._planned[instant] = time.monotonic()
        run_at = max(wall_time(self.clock, instant), datetime.now(UTC))
        with self._jobs_lock:
            if self._stopping.is_set():
                return
            self._scheduler.add_job(
                self._wake, "date", run_date=run_at, args=[instant], id=_job_id(instant), replace_existing=True
            )

    def _unplan(self, instant: datetime) -> None:
        with self._lock:
            self._planned.pop(instant, None)
        with self._jobs_lock, contextlib.suppress(JobLookupError):  # JobLookupError: it ran meanwhile
            if not self._stopping.is_set():
                self._scheduler.remove_job(_job_id(instant))


def _first_line(err: Any) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
