"""Working days, durations and breach instants, all in Europe/London.

One counting rule serves every policy (DOMAIN.md, Deadlines): ``N working
days`` after an anchor is the Nth working day strictly after the anchor's
local date; calendar days, weeks and months are plain date arithmetic. A
deadline's ``due`` is the last local date on which it is met; it passes at the
first instant of the next local day, which is computed through zoneinfo so
that the clock changes in March and October never shift it by an hour.
"""

from __future__ import annotations

import calendar as _stdcal
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")

_UNITS = {
    "working day": "working_days",
    "working days": "working_days",
    "wd": "working_days",
    "day": "calendar_days",
    "days": "calendar_days",
    "calendar day": "calendar_days",
    "calendar days": "calendar_days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
}
_DURATION_RE = re.compile(r"^\s*(\d+)\s+([a-z ]+?)\s*$")


class DurationError(ValueError):
    """A duration string that the calendar cannot read."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A length in one of the four units the seeds use."""

    amount: int
    unit: str  # working_days | calendar_days | weeks | months

    @classmethod
    def parse(cls, text: str) -> Duration:
        if not isinstance(text, str):
            raise DurationError(f"expected text like '5 working days', got {text!r}")
        match = _DURATION_RE.match(text.lower())
        if not match or match.group(2) not in _UNITS:
            raise DurationError(
                f"cannot read {text!r}: use 'N working days', 'N calendar days', 'N weeks' or 'N months'"
            )
        return cls(int(match.group(1)), _UNITS[match.group(2)])

    def __str__(self) -> str:
        words = {
            "working_days": "working day",
            "calendar_days": "calendar day",
            "weeks": "week",
            "months": "month",
        }[self.unit]
        return f"{self.amount} {words}{'' if self.amount == 1 else 's'}"


@lru_cache(maxsize=256)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """England and Wales working days, less a policy's own closure days."""

    closure_days: frozenset[date] = frozenset()

    @classmethod
    def with_closures(cls, days: Iterable[date]) -> WorkingCalendar:
        return cls(frozenset(days))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not is_bank_holiday(day) and day not in self.closure_days

    def add_working_days(self, anchor: date, n: int) -> date:
        """The Nth working day strictly after ``anchor`` (the anchor itself never counts)."""
        return _add_working_days(self.closure_days, anchor, n)

    def _count_forward(self, anchor: date, n: int) -> date:
        day = anchor
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def add(self, anchor: date, duration: Duration) -> date:
        if duration.unit == "working_days":
            return self.add_working_days(anchor, duration.amount)
        if duration.unit == "calendar_days":
            return anchor + timedelta(days=duration.amount)
        if duration.unit == "weeks":
            return anchor + timedelta(weeks=duration.amount)
        return add_months(anchor, duration.amount)


@lru_cache(maxsize=65536)
def _add_working_days(closure_days: frozenset[date], anchor: date, n: int) -> date:
    """Cached: every command and every replay asks the same few anchors and lengths again."""
    return WorkingCalendar(closure_days)._count_forward(anchor, n)


def add_months(day: date, months: int) -> date:
    """Same day N months on; a day missing from the target month is its last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = _stdcal.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def local_date(instant: datetime) -> date:
    """The Europe/London date of an aware instant: the anchor of any deadline it opens."""
    return instant.astimezone(LONDON).date()


def start_of_local_day(day: date) -> datetime:
    """The first instant of a London day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


@lru_cache(maxsize=8192)
def breach_instant(due: date) -> datetime:
    """The instant a deadline due on ``due`` passes: local midnight starting the next day.

    Cached: a time-zone conversion per call, and timers and verify ask for the same few hundred dates.
    """
    return start_of_local_day(due + timedelta(days=1))
