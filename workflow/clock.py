"""One source of "now", injected everywhere so tests and scenarios move time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (the scenario runner's and the tests')."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        if instant < self._now:
            raise ValueError(f"the clock only moves forward: {instant} < {self._now}")
        self._now = instant

    def advance(self, delta: timedelta) -> None:
        self._now += delta
