"""A service clock that need not read the wall clock, and the way back to wall time for APScheduler.

The service takes "now" from an injected clock (workflow/clock.py). Timers wake
on the wall clock, so the scheduler turns each breach instant into the wall
instant at which the service clock will read it. With the system clock the two
are the same; a ``ShiftedClock`` starts at a chosen instant and runs at a
chosen speed, which lets a rehearsal (``complaints serve --clock-start``), an
end-to-end test or the benchmark see deadlines pass at local midnight in
seconds rather than days, through the very same timer code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workflow.clock import Clock


class ShiftedClock:
    """Reads ``start`` when made (or at ``wall_start``), then runs at ``speed`` times real time.

    ``wall_start`` lets several processes (``serve --workers``) read one clock.
    """

    def __init__(self, start: datetime, speed: float = 1.0, wall_start: datetime | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs an aware datetime")
        if speed <= 0:
            raise ValueError("ShiftedClock's speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self.wall_start = wall_start if wall_start is not None else datetime.now(UTC)

    def now(self) -> datetime:
        return self.start + (datetime.now(UTC) - self.wall_start) * self.speed

    def wall_time(self, instant: datetime) -> datetime:
        """The wall-clock instant at which this clock reads ``instant``."""
        return self.wall_start + (instant - self.start) / self.speed


def wall_time(clock: Clock | Any, instant: datetime) -> datetime:
    """When, on the wall clock, ``clock`` reads ``instant`` (the same instant for the system clock)."""
    convert = getattr(clock, "wall_time", None)
    return convert(instant) if convert is not None else instant
