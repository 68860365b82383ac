"""``complaints work`` as an operator runs it: a subprocess on a real SQLite file, the wall clock as "today".

The expected numbers are worked out here with the same calendar from the day the test runs, so the test
holds on any date (a case back-dated five weeks has both its stage 1 clocks breached).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from workflow.calendar import WorkingCalendar, local_date
from workflow.worklist import working_days_left

CAL = WorkingCalendar()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "work.db"


def opened(db: Path, policy: str, occurred_at: datetime) -> str:
    data = json.dumps({"incident_date": (occurred_at - timedelta(days=3)).date().isoformat(), "formal": True})
    result = run(
        db, "case", "open", "--policy", policy, "--data", data, "--occurred-at", occurred_at.isoformat(), "--json"
    )
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["id"])


def test_the_morning_work_list_as_a_table_and_as_json(db: Path) -> None:
    back = datetime.now(UTC) - timedelta(days=35)
    late = opened(db, "code_2024", back)
    fresh = opened(db, "livin", datetime.now(UTC) - timedelta(minutes=1))
    ack = ["--set", "handler=Amy Pond", "--set", "handler_role=manager", "--set", "complaint_definition=Leak"]
    assert run(db, "case", "event", fresh, "acknowledge", *ack).returncode == 0

    result = run(db, "work", "--json")
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    today = local_date(datetime.now(UTC))
    ack_due = CAL.add_working_days(local_date(back), 5)
    response_due = CAL.add_working_days(ack_due, 10)  # the provisional date a missed acknowledgement opens
    assert page["today"] == today.isoformat() and page["total"] == 3
    expected = [
        (late, "stage_1_acknowledgement", ack_due.isoformat(), working_days_left(CAL, today, ack_due), True, None),
        (late, "stage_1_response", response_due.isoformat(), working_days_left(CAL, today, response_due), True, None),
    ]
    got = [
        (i["case_id"], i["kind"], i["due"], i["working_days_left"], i["breached"], i["handler"]) for i in page["items"]
    ]
    assert got[:2] == expected and expected[1][3] < 0
    assert got[2][0] == fresh and got[2][5] == "Amy Pond" and got[2][3] > 0 and got[2][4] is False

    table = run(db, "work", "--handler", "amy pond")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["due", "days", "left", "kind", "case", "policy", "state", "handler"]
    assert fresh in lines[1] and "livin@1" in lines[1] and "Amy Pond" in lines[1]
    assert lines[-1].startswith("1-1 of 1")
    overdue = run(db, "work", "--policy", "code_2024", "--limit", "1").stdout.splitlines()
    assert late in overdue[1] and " !" in overdue[1] and overdue[-1].startswith("1-1 of 2")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--due-before", "next week"], "due_before"),
        (["--kind", "ombudsman_wait"], "kind"),
        (["--policy", "nobody"], "policy"),
        (["--state", "stage_3"], "state"),
        (["--limit", "501"], "limit"),
        (["--offset", "-1"], "offset"),
    ],
)
def test_bad_filters_exit_2_naming_the_field(db: Path, args: list[str], field: str) -> None:
    result = run(db, "work", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: invalid_data: {field}: ") and "Traceback" not in result.stderr
    assert result.stdout == ""
