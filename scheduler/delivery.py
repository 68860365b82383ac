"""The background worker of ``complaints serve``: webhook delivery and due-soon reminders, off the command path.

One daemon thread per instance, knowing nothing of the service (the composition root hands it callables,
as it does the timers). ``work()`` fans new feed entries out and sends what is due, returning how much it
did: 0 means idle, so it sleeps ``poll_seconds``; a little, ``round_seconds`` (on SQLite its write
transactions stay few and large beside the commands'); a full round, it goes straight on. ``remind(now)``
writes the due-soon reminders whose instant has come, run at each London midnight of the service clock
(reminders fall at midnights) and every ``sweep_seconds``. HTTP requests run on the worker's own sender
threads with timeouts, so a slow or dead receiver holds up neither commands nor the deadline timers. An
error (a database that went away) is logged and retried after a pause; the thread never dies of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from scheduler.clock import wall_time
from workflow.calendar import local_date, start_of_local_day
from workflow.clock import Clock


class BackgroundWorker:
    def __init__(
        self,
        clock: Clock,
        work: Callable[[], int],
        remind: Callable[[datetime], int],
        sweep_seconds: float = 60.0,
        poll_seconds: float = 0.2,
        round_seconds: float = 0.25,
        full_round: int = 500,
        on_stop: Callable[[], Any] | None = None,
    ) -> None:
        self.clock = clock
        self.work = work
        self.remind = remind
        self.sweep_seconds = sweep_seconds
        self.poll_seconds = poll_seconds
        self.round_seconds = round_seconds  # between rounds that found work (fewer, larger write transactions)
        self.full_round = full_round  # a round this big means a backlog: the next starts at once
        self.on_stop = on_stop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log = structlog.get_logger("complaints.worker")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="complaints-delivery", daemon=True)
        self._thread.start()
        self.log.info("delivery_started", poll_seconds=self.poll_seconds, sweep_seconds=self.sweep_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.on_stop is not None:
            self.on_stop()

    def _next_reminders(self, now: datetime) -> datetime:
        midnight = start_of_local_day(local_date(now) + timedelta(days=1))
        return min(midnight, now + timedelta(seconds=self.sweep_seconds))

    def _run(self) -> None:
        remind_at = self.clock.now()
        while not self._stop.is_set():
            try:
                now = self.clock.now()
                if now >= remind_at:
                    self.remind(now)
                    remind_at = self._next_reminders(now)
                did = self.work()
                if did < self.full_round:
                    until_remind = (wall_time(self.clock, remind_at) - wall_time(self.clock, now)).total_seconds()
                    pause = self.poll_seconds if did == 0 else self.round_seconds
                    self._stop.wait(max(0.0, min(pause, until_remind)))
            except Exception as err:  # the database gone for a moment, say: log, pause, go on
                self.log.error("worker_error", error=f"{type(err).__name__}: {err}")
                self._stop.wait(1.0)
                time.sleep(0)
