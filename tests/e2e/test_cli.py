"""The `complaints` CLI as an operator uses it: a real subprocess on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLAINTS = str(Path(sys.executable).with_name("complaints"))


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{db}", "COMPLAINTS_LOG_LEVEL": "WARNING"}
    return subprocess.run([COMPLAINTS, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def open_case(db: Path) -> str:
    result = run(
        db, "case", "open", "--policy", "livin", "--data", '{"incident_date": "2026-11-01", "formal": true}', "--json"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["id"]


def test_open_show_event_history_allowed(db: Path) -> None:
    case_id = open_case(db)
    ack = run(
        db,
        "case",
        "event",
        case_id,
        "acknowledge",
        "--set",
        "handler=amy",
        "--set",
        "handler_role=manager",
        "--set",
        "complaint_definition=Leak",
        "--actor",
        "officer-7",
        "--json",
    )
    assert ack.returncode == 0, ack.stderr
    assert json.loads(ack.stdout)["version"] == 2
    shown = run(db, "case", "show", case_id)
    assert "state: stage_1" in shown.stdout and "stage_1_response" in shown.stdout
    history = json.loads(run(db, "case", "history", case_id, "--json").stdout)
    assert [(e["name"], e["actor"]) for e in history] == [("receive", "cli"), ("acknowledge", "officer-7")]
    allowed = {row["event"]: row for row in json.loads(run(db, "case", "allowed", case_id, "--json").stdout)}
    assert allowed["withdraw"]["allowed"] is True
    assert allowed["refer_to_ombudsman"]["reasons"] == ["invalid_in_state"]
    assert allowed["respond"]["reasons"] == ["letter_incomplete"]


def test_a_refused_event_prints_every_reason_and_exits_1(db: Path) -> None:
    case_id = open_case(db)
    result = run(
        db,
        "case",
        "event",
        case_id,
        "acknowledge",
        "--set",
        "handler=amy",
        "--set",
        "handler_role=officer",
        "--occurred-at",
        "2020-01-01T00:00:00+00:00",
    )
    assert result.returncode == 1
    assert "refused: occurred_before_previous_event, definition_missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(json.loads(run(db, "case", "history", case_id, "--json").stdout)) == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("case", "open", "--policy", "nope", "--data", "{}"), "unknown_policy"),
        (("case", "show", "no-such-case"), "case_not_found"),
        (("case", "event", "no-such-case", "withdraw"), "case_not_found"),
        (("policy", "show", "b3living@9"), "unknown_policy"),
    ],
)
def test_bad_input_is_one_line_with_a_code_and_exit_2(db: Path, args: tuple[str, ...], code: str) -> None:
    result = run(db, *args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {code}:")
    assert "Traceback" not in result.stderr


def test_bad_data_names_the_field(db: Path) -> None:
    result = run(db, "case", "open", "--policy", "code_2024", "--data", '{"incident_date": "yesterday", "colour": 1}')
    assert result.returncode == 1
    assert "invalid_data" in result.stderr and "data.incident_date" in result.stderr and "data.colour" in result.stderr


def test_an_unusable_database_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = run(blocker / "cli.db", "case", "show", "x")
    assert result.returncode == 3
    assert result.stderr.startswith("error: database_unavailable:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_policy_list_and_show(db: Path) -> None:
    listed = json.loads(run(db, "policy", "list", "--json").stdout)
    assert {(p["id"], p["version"]) for p in listed} == {
        ("b3living", 1),
        ("b3living", 2),
        ("brighter_places", 1),
        ("code_2024", 1),
        ("livin", 1),
        ("resolution_team", 1),
    }
    shown = json.loads(run(db, "policy", "show", "livin", "--json").stdout)
    assert shown["stage_1"]["acknowledgement"] == "2 working days"
    assert shown["escalation"]["window"] == "14 calendar days"
    assert "b3living@2 (newest)" in run(db, "policy", "list").stdout


def test_the_log_level_setting_applies_to_the_cli_too(db: Path) -> None:
    """COMPLAINTS_LOG_LEVEL (docs/operators.md, Settings): the JSON log lines on stderr, not only under serve."""
    args = ["case", "open", "--policy", "livin", "--data", '{"incident_date": "2026-11-01", "formal": true}']
    quiet = run(db, *args)  # run() sets WARNING
    assert quiet.returncode == 0 and "event_applied" not in quiet.stderr
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{db}", "COMPLAINTS_LOG_LEVEL": "INFO"}
    loud = subprocess.run([COMPLAINTS, *args], env=env, capture_output=True, text=True, timeout=60)
    assert loud.returncode == 0 and '"event": "event_applied"' in loud.stderr


def test_a_reader_that_stops_reading_ends_the_command_quietly(db: Path) -> None:
    """``complaints policy show livin | head -1``: the pipe closes early; no traceback, the shell's SIGPIPE code."""
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{db}", "COMPLAINTS_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [COMPLAINTS, "policy", "show", "livin"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the command writes a line
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err and err == "", err
    assert process.returncode == 141
