"""Working days left on the work list, and the rules that say a breached obligation is still owed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from workflow.calendar import WorkingCalendar
from workflow.vocabulary import STATES, WINDOWS
from workflow.worklist import LIVE_STATES, MET_IN_PLACE, OBLIGATIONS, working_days_left

CAL = WorkingCalendar()
FRI, SAT, SUN, MON, TUE = (date(2027, 1, 15) + timedelta(days=n) for n in range(5))


@pytest.mark.parametrize(
    ("today", "due", "left"),
    [
        (MON, MON, 0),  # due today: still on time
        (FRI, MON, 1),  # the weekend does not count
        (SAT, MON, 1),
        (FRI, TUE, 2),
        (FRI, SUN, 0),  # a date set by an extension may fall on a Sunday: nothing left, not yet breached
        (SAT, FRI, -1),  # breached at midnight, no working day lost yet: negative all the same
        (SUN, FRI, -1),
        (MON, FRI, -1),
        (TUE, FRI, -2),
        (MON, SUN, -1),
        (date(2027, 2, 15), FRI, -21),
    ],
)
def test_working_days_left(today: date, due: date, left: int) -> None:
    assert working_days_left(CAL, today, due) == left


def test_bank_holidays_do_not_count() -> None:
    # Christmas 2026: Friday 25th and Monday 28th are bank holidays (DOMAIN.md's example)
    assert working_days_left(CAL, date(2026, 12, 18), date(2026, 12, 29)) == 5
    assert working_days_left(CAL, date(2026, 12, 29), date(2026, 12, 24)) == -1


def test_a_policy_s_closure_days_do_not_count() -> None:
    closed = WorkingCalendar.with_closures([TUE - timedelta(days=7), MON])  # Tuesday 12th and Monday 18th
    assert working_days_left(closed, date(2027, 1, 11), FRI) == 3  # 13, 14, 15
    assert working_days_left(closed, TUE, FRI) == -1  # the Monday is closed: only Tuesday is lost
    assert working_days_left(closed, FRI, TUE) == 1


def test_due_dates_counted_forward_come_back_to_the_same_count() -> None:
    for start in (date(2027, 1, 1) + timedelta(days=n) for n in range(60)):
        for n in (0, 1, 5, 10, 20):
            due = CAL.add_working_days(start, n)
            assert working_days_left(CAL, start, due) == n


def test_every_obligation_and_no_window_has_its_rules() -> None:
    assert set(OBLIGATIONS).isdisjoint(WINDOWS) and len(OBLIGATIONS) == 7
    assert set(LIVE_STATES) == set(OBLIGATIONS)
    assert all(set(states) <= set(STATES) for states in LIVE_STATES.values())
    assert all("closed" not in states and "ombudsman_referred" not in states for states in LIVE_STATES.values())
    assert MET_IN_PLACE == {"stage_1_acknowledgement": "acknowledge"}
