"""When a due-soon reminder falls: the start (London) of the Nth working day before an obligation's due date.

Pure calendar arithmetic for service/due_soon.py. With a lead of 1 a deadline due on a Monday is
reminded at 00:00 on the Friday before (bank holidays and the policy's closure days skipped); 0 turns
reminders off.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from workflow.calendar import WorkingCalendar, start_of_local_day


def reminder_day(calendar: WorkingCalendar, due: date, lead: int) -> date:
    """The ``lead``-th working day strictly before ``due``."""
    day, counted = due, 0
    while counted < lead:
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def reminder_instant(calendar: WorkingCalendar, due: date, lead: int) -> datetime | None:
    """The instant the reminder is due, or None when the lead is 0 (reminders off)."""
    if lead <= 0:
        return None
    return start_of_local_day(reminder_day(calendar, due, lead))


def latest_due_to_remind(today: date, lead: int) -> date:
    """A date no earlier than any due date whose reminder falls on or before ``today`` (a query's bound):
    ``lead`` working days span at most ``lead`` weeks plus a fortnight of holidays and closures."""
    return today + timedelta(days=7 * lead + 14)
