"""The reminder instant: the Nth working day before the due date, at 00:00 London; the policy field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from workflow.calendar import WorkingCalendar
from workflow.catalog import shipped
from workflow.due_soon import latest_due_to_remind, reminder_day, reminder_instant
from workflow.policy import PolicyError, parse_policy

CAL = WorkingCalendar()


def test_the_reminder_falls_on_the_working_day_before() -> None:
    assert reminder_day(CAL, date(2027, 2, 15), 1) == date(2027, 2, 12)  # Monday: the Friday before
    assert reminder_day(CAL, date(2027, 3, 30), 1) == date(2027, 3, 25)  # over Easter (26 and 29 March)
    assert reminder_day(CAL, date(2027, 3, 30), 2) == date(2027, 3, 24)
    assert reminder_day(CAL, date(2027, 2, 17), 3) == date(2027, 2, 12)  # over a weekend
    assert reminder_day(CAL, date(2027, 1, 4), 1) == date(2026, 12, 31)  # over New Year's Day
    # in summer time the London midnight is 23:00 UTC the day before
    assert reminder_instant(CAL, date(2027, 6, 16), 1) == datetime(2027, 6, 14, 23, tzinfo=UTC)
    assert reminder_instant(CAL, date(2027, 6, 16), 0) is None
    for lead in (1, 3, 10):
        bound = latest_due_to_remind(date(2027, 12, 20), lead)
        assert reminder_day(CAL, bound, lead) > date(2027, 12, 20)


def test_the_policy_field_defaults_to_one_and_is_checked() -> None:
    assert {p.due_soon_working_days for p in shipped().all()} == {1}
    base = shipped().all()[0]
    import tomllib
    from pathlib import Path

    data = tomllib.loads(Path(base.path).read_text())
    assert parse_policy({**data, "due_soon_working_days": 0}, "x.toml").due_soon_working_days == 0
    for bad in (-1, "1", 1.5, True):
        with pytest.raises(PolicyError, match="due_soon_working_days"):
            parse_policy({**data, "due_soon_working_days": bad}, "x.toml")
