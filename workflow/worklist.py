"""What the work list counts as still owed, and how many working days are left: pure domain rules.

An obligation is owed while its deadline row is ``open``. A breach changes
the row to ``passed`` (the ``deadline_passed`` event) and no later event ever
changes it again: a late acknowledgement still meets the obligation
(DOMAIN.md: "A late event still meets its obligation; the breach stays"), but
``Clocks.meet`` only closes open rows. So whether a breached obligation is
still unmet is read from what happened after it, by three rules that the
storage query turns into SQL:

1. the case is still in a state where the obligation is pending
   (``LIVE_STATES``): every event that meets or cancels one of these kinds
   moves the case out of them, except those in rule 3;
2. no later deadline of the same kind exists on the case: an extension, a
   re-anchored response date or the next update took its place;
3. for ``stage_1_acknowledgement`` no ``acknowledge`` came after the breach
   (the one meeting event that leaves the state as it was, ``MET_IN_PLACE``).
"""

from __future__ import annotations

from datetime import date

from workflow.calendar import WorkingCalendar
from workflow.vocabulary import DEADLINE_KINDS, WINDOWS

OBLIGATIONS: tuple[str, ...] = tuple(k for k in DEADLINE_KINDS if k not in WINDOWS)

_STAGE_1 = ("stage_1", "stage_1_extended")
LIVE_STATES: dict[str, tuple[str, ...]] = {
    "informal_response": ("stage_0",),
    "stage_1_acknowledgement": _STAGE_1,
    "stage_1_response": _STAGE_1,
    "stage_1_update": _STAGE_1,
    "stage_2_acknowledgement": ("stage_2_requested",),
    "stage_2_response": ("stage_2_requested", "stage_2", "stage_2_extended"),
    "stage_2_update": ("stage_2", "stage_2_extended"),
}
MET_IN_PLACE: dict[str, str] = {"stage_1_acknowledgement": "acknowledge"}

assert set(LIVE_STATES) == set(OBLIGATIONS)  # a new obligation kind must say where it is pending


def working_days_left(calendar: WorkingCalendar, today: date, due: date) -> int:
    """Working days from ``today`` to ``due``; negative once the obligation is breached.

    On time (``today <= due``): the working days after today up to and including the due date, so 0 means
    "due today" and 1 "due on the next working day". Breached (``today > due``): minus the working days
    after the due date up to and including today, and at least 1, so a breach is always negative (on the
    Saturday after a Friday due date nothing has been lost yet, but the breach has happened: -1).
    """
    if today <= due:
        return calendar.working_days_between(today, due)
    return -max(1, calendar.working_days_between(due, today))
