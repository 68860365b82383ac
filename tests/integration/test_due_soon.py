"""Due-soon reminders: one per open obligation at its instant (lead working days before the due date),
once across sweeps and restarts, never for a deadline met before then, never an event of the case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.bootstrap import App, Settings, bootstrap
from service.due_soon import DueSoon
from service.feed import Feed
from tests.integration.test_timers_support import POLICY, RECEIVE, write_policy
from workflow.clock import ManualClock

ACK = {"handler": "ben", "handler_role": "officer", "complaint_definition": "Damp", "outcomes_sought": "Fix"}
OPENED = datetime(2027, 2, 8, 10, tzinfo=UTC)  # a Monday; acknowledgement due Thursday 11 February
REMINDER = datetime(2027, 2, 10, 0, tzinfo=UTC)  # 00:00 London on the working day before (GMT in February)


def slow_acknowledgement_policy(folder: Path) -> Path:
    """The timer test policy with a three-day acknowledgement, so its reminder falls after the case opens."""
    write_policy(folder)
    toml = folder / POLICY / "1.toml"
    text = toml.read_text().replace('acknowledgement = "1 calendar day"', 'acknowledgement = "3 calendar days"', 1)
    toml.write_text(text)
    return folder


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    folder = slow_acknowledgement_policy(tmp_path / "p")
    made = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(folder)), clock=ManualClock(OPENED))
    yield made
    made.engine.dispose()


def reminders(app: App) -> list[dict]:
    entries = Feed(app.engine).page(None, 1000).entries
    return [e for e in entries if e["type"] == "uk.complaints.deadline_due_soon"]


def test_due_soon_fires_once_at_its_instant_and_not_for_a_met_deadline(app: App) -> None:
    clock: ManualClock = app.clock  # type: ignore[assignment]
    waiting = app.service.open_case(POLICY, RECEIVE, occurred_at=OPENED)["id"]
    met = app.service.open_case(POLICY, RECEIVE, occurred_at=OPENED)["id"]
    due_soon = DueSoon(app.engine, app.catalog)
    clock.set(datetime(2027, 2, 9, 12, tzinfo=UTC))
    app.service.apply(met, "acknowledge", ACK)  # met before its reminder instant
    due_soon.sweep(clock.now())
    clock.set(datetime(2027, 2, 9, 23, 59, 59, tzinfo=UTC))
    due_soon.sweep(clock.now())
    assert [(r["subject"], r["data"]["kind"]) for r in reminders(app)] == [(met, "stage_1_response")]
    clock.set(REMINDER)
    assert due_soon.sweep(clock.now()) == 1
    assert due_soon.sweep(clock.now()) == 0
    assert DueSoon(app.engine, app.catalog).sweep(clock.now()) == 0  # a restart: still once
    got = reminders(app)
    expected = [(met, "stage_1_response"), (waiting, "stage_1_acknowledgement")]
    assert [(r["subject"], r["data"]["kind"]) for r in got] == expected
    ack = got[1]
    assert ack["time"] == "2027-02-10T00:00:00Z"
    assert ack["data"]["due"] == "2027-02-11" and ack["data"]["breach_at"] == "2027-02-12T00:00:00Z"
    assert got[0]["data"]["handler"] == "ben" and ack["data"]["handler"] is None
    assert [r.name for r in app.service.history(waiting)] == ["receive"]  # not an event of the case


def test_a_lead_of_zero_turns_reminders_off(app: App, tmp_path: Path) -> None:
    toml = Path(app.settings.extra_policy_dir or "") / POLICY / "1.toml"
    toml.write_text("due_soon_working_days = 0\n" + toml.read_text())
    quiet = bootstrap(Settings(db_url=app.settings.db_url, extra_policy_dir=app.settings.extra_policy_dir),
                      clock=ManualClock(OPENED))  # fmt: skip
    try:
        quiet.service.open_case(POLICY, RECEIVE, occurred_at=OPENED)
        assert DueSoon(quiet.engine, quiet.catalog).sweep(REMINDER) == 0
    finally:
        quiet.engine.dispose()
