"""Shared by the timer tests: a made-up policy whose deadlines pass a calendar day apart.

Working-day clocks never fall due on a weekend, and both days the clocks change
in 2027 (28 March, 31 October) are Sundays; this policy counts calendar days, so
a deadline can be due on any day. Passed to the service as an extra policy
folder (``Settings.extra_policy_dir``, env ``COMPLAINTS_POLICY_DIR``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from workflow.calendar import breach_instant

LONDON = ZoneInfo("Europe/London")
POLICY = "timer_test"
RECEIVE = {"channel": "email", "incident_date": "2027-01-04", "formal": True}

_POLICY_TOML = """\
# A made-up policy for the timer tests: every clock is one calendar day, no closure days.
id = "timer_test"
version = 1
name = "Timer test policy"
source = "tests/integration/test_timers_support.py"
closure_days = []
exclusions = ["out_of_time"]
refusal_grounds = ["out_of_time"]

[time_limit]
length = "12 months"
from_awareness = true

[stage_1]
acknowledgement = "1 calendar day"
response = "1 calendar day"
response_from = "acknowledgement"
letter = ["decision", "reasons", "remedy", "outstanding_actions", "escalation_route"]

[escalation]
late_allowed = false
early = "none"
reasons_required = false

[stage_2]
acknowledgement = "1 calendar day"
response = "1 calendar day"
response_from = "acknowledgement"
letter = ["decision", "reasons", "remedy", "outstanding_actions", "ombudsman_info"]

[ombudsman]
designated_person_bypass = false
"""


def write_policy(folder: Path) -> Path:
    """The extra policy folder (``<folder>/timer_test/1.toml``)."""
    (folder / POLICY).mkdir(parents=True, exist_ok=True)
    (folder / POLICY / "1.toml").write_text(_POLICY_TOML, encoding="utf-8")
    return folder


def received_for(due: date) -> datetime:
    """A receive instant (10:00 London) whose acknowledgement is due on ``due``: the day before."""
    return datetime.combine(due - timedelta(days=1), time(10), tzinfo=LONDON).astimezone(UTC)


def passes(due: date) -> datetime:
    return breach_instant(due)
