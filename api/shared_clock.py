"""One shifted serve clock (``complaints serve --clock-start``) across the processes of one serve: the
``--workers`` processes (api/serve_workers.py) and each delivery child (api/delivery_process.py).

The parent writes the clock's start and the wall time it started into the environment before it starts
them; each reads it back, so all tell the same time."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from workflow.clock import Clock

CLOCK_ENV = "COMPLAINTS_SERVE_SHIFTED_CLOCK"  # "START WALL_START": every process reads one shifted clock


def share_clock(clock: Clock) -> None:
    """Hand a shifted clock to the processes started after this: its start and the wall time it started."""
    start, wall = getattr(clock, "start", None), getattr(clock, "wall_start", None)
    if start is not None and wall is not None:
        os.environ[CLOCK_ENV] = f"{start.isoformat()} {wall.isoformat()}"


def worker_clock() -> Clock:
    """The clock a started process runs on: the shared shifted clock, or the system's."""
    from scheduler.clock import ShiftedClock
    from workflow.clock import SystemClock

    shared = os.environ.get(CLOCK_ENV)
    if not shared:
        return SystemClock()
    start, wall = (datetime.fromisoformat(part) for part in shared.split())
    return ShiftedClock(start, wall_start=wall.astimezone(UTC))
