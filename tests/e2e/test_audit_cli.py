"""The auditor's commands as a person runs them: `complaints verify|replay|history` as subprocesses on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.bootstrap import Settings, bootstrap
from storage.tables import events
from workflow.clock import ManualClock

COMPLAINTS = str(Path(sys.executable).with_name("complaints"))
pytestmark = pytest.mark.e2e


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{db}", "COMPLAINTS_LOG_LEVEL": "WARNING"}
    return subprocess.run([COMPLAINTS, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    clock = ManualClock(datetime(2026, 12, 18, 10, tzinfo=UTC))
    app = bootstrap(Settings(db_url=f"sqlite:///{path}"), clock=clock)
    app.service.open_case("b3living", {"incident_date": "2026-12-10", "formal": True}, case_id="xmas")
    clock.advance(timedelta(days=4, hours=1))
    ack = {"handler": "amy", "handler_role": "manager", "complaint_definition": "Boiler", "outcomes_sought": "Fix"}
    app.service.apply("xmas", "acknowledge", ack, occurred_at=clock.now() - timedelta(days=1))
    app.engine.dispose()
    return path


def test_verify_replay_history_and_what_if(db: Path, tmp_path: Path) -> None:
    verify = run(db, "verify")
    assert (verify.returncode, verify.stdout) == (0, "verified 1 case(s), 2 event(s): all hold\n")

    replay = run(db, "replay", "xmas", "--known-at", "2026-12-21T12:00:00Z")
    assert replay.returncode == 0, replay.stderr
    assert "events folded: 1; left out: 2" in replay.stdout
    assert "open: stage_1_acknowledgement due 2026-12-29" in replay.stdout

    html = tmp_path / "xmas.html"
    history = run(db, "history", "xmas", "--format", "html", "-o", str(html))
    assert history.returncode == 0 and html.read_text().startswith("<!DOCTYPE html>")
    text = run(db, "history", "xmas")
    assert "verified (hash chain intact, replay equals the store)" in text.stdout and "(back-dated)" in text.stdout

    what_if = run(db, "replay", "xmas", "--policy", "code_2024")
    assert what_if.returncode == 0, what_if.stderr
    assert "stage_1_response: opened due 2027-01-06 under b3living@2, not opened under code_2024@1" in what_if.stdout
    assert what_if.stdout.rstrip().endswith("outcome differs")


def test_tampering_exits_1_and_bad_input_exits_2_without_a_traceback(db: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        connection.execute(sa.update(events).where(events.c.seq == 1).values(actor="mallory"))
    engine.dispose()
    verify = run(db, "verify")
    assert verify.returncode == 1
    assert verify.stdout.splitlines() == [
        "case xmas seq 1: hash_mismatch: the event's content does not match its hash",
        "verified 1 case(s), 2 event(s): 1 problem(s) in 1 case(s)",
    ]
    for args, message in [
        (
            ("replay", "xmas", "--as-of", "tuesday"),
            "error: invalid_data: --as-of: 'tuesday' is not an ISO 8601 instant",
        ),
        (("replay", "nope"), "error: case_not_found: no case 'nope'"),
        (("replay", "xmas", "--policy", "nobody"), "error: unknown_policy: unknown policy 'nobody'"),
        (("verify", "--case", "nope"), "error: case_not_found: no case 'nope'"),
    ]:
        result = run(db, *args)
        assert result.returncode == 2, result
        assert result.stderr.startswith(message) and "Traceback" not in result.stderr
