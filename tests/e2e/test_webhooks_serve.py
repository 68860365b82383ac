"""``complaints serve`` delivers webhooks and due-soon reminders as a real process: kill -9 mid-delivery
and restart, every event arrives at least once, in order per case; a reminder fires once at its instant
(the shifted clock, as the timer tests use) and once only across a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.bootstrap import Settings, bootstrap
from api.http.deps import create_token
from service.webhooks import Webhooks
from storage.tables import events
from tests.e2e.serve_process import Served, start_serve
from tests.integration.test_due_soon import ACK, OPENED, REMINDER, slow_acknowledgement_policy
from tests.integration.test_timers_support import POLICY, RECEIVE
from tests.webhook_receiver import Receiver
from workflow.clock import ManualClock, SystemClock

pytestmark = pytest.mark.e2e


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def test_kill_9_mid_delivery_then_restart_delivers_every_event_in_order_per_case(
    db_url: str, tmp_path: Path, served: list[Served]
) -> None:
    folder = slow_acknowledgement_policy(tmp_path / "policies")
    app = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(folder)), clock=SystemClock())
    receiver = Receiver(delay=0.15)
    try:
        receiver.secret = Webhooks(app.engine, app.clock).add(receiver.url)["secret"]
        opened = [app.service.open_case(POLICY, RECEIVE)["id"] for _ in range(30)]
        for case_id in opened:
            app.service.apply(case_id, "acknowledge", ACK)
            app.service.apply(case_id, "withdraw", {})
        with app.engine.connect() as connection:
            expected = {f"event-{i}" for i in connection.execute(sa.select(events.c.id)).scalars()}
        assert len(expected) == 90
        env = {"COMPLAINTS_POLICY_DIR": str(folder), "COMPLAINTS_WEBHOOK_LEASE_SECONDS": "2"}
        first = start_serve(db_url, tmp_path / "serve1.log", extra_env=env)
        served.append(first)
        wait_for(lambda: len(receiver.arrivals) >= 10, 30, "the first deliveries")
        first.kill()  # kill -9 with requests in flight
        before = len({a.entry["id"] for a in receiver.arrivals})
        assert before < 90, "everything arrived before the kill: the test proves nothing"
        served.append(start_serve(db_url, tmp_path / "serve2.log", extra_env=env))
        wait_for(lambda: {a.entry["id"] for a in receiver.delivered()} >= expected, 60, "every event delivered")
        arrivals = list(receiver.arrivals)
        assert all(a.signed for a in arrivals)
        for case_id in opened:
            seqs = [a.entry["data"]["seq"] for a in arrivals if a.entry["subject"] == case_id]
            assert seqs == sorted(seqs), f"case {case_id} out of order: {seqs}"
            assert set(seqs) == {1, 2, 3}
    finally:
        receiver.close()
        app.engine.dispose()


def test_two_serve_workers_deliver_every_event_once_in_order_per_case(
    fresh_postgres_url: str, tmp_path: Path, served: list[Served]
) -> None:
    """``serve --workers 2``: both workers run delivery; the claims (SKIP LOCKED) send each row once."""
    folder = slow_acknowledgement_policy(tmp_path / "policies")
    app = bootstrap(Settings(db_url=fresh_postgres_url, extra_policy_dir=str(folder)), clock=SystemClock())
    receiver = Receiver(delay=0.01)
    try:
        receiver.secret = Webhooks(app.engine, app.clock).add(receiver.url)["secret"]
        opened = [app.service.open_case(POLICY, RECEIVE)["id"] for _ in range(40)]
        for case_id in opened:
            app.service.apply(case_id, "acknowledge", ACK)
        env = {"COMPLAINTS_POLICY_DIR": str(folder)}
        process = start_serve(fresh_postgres_url, tmp_path / "serve.log", extra_env=env, extra_args=["--workers", "2"])
        served.append(process)
        with app.engine.connect() as connection:
            expected = {f"event-{i}" for i in connection.execute(sa.select(events.c.id)).scalars()}
        assert len(expected) == 80
        wait_for(lambda: {a.entry["id"] for a in receiver.delivered()} >= expected, 60, "every event delivered")
        time.sleep(1.5)  # a second sending of anything (an event or a due-soon reminder) would arrive now
        arrivals = list(receiver.arrivals)
        sent = [a.entry["id"] for a in arrivals]
        assert len(sent) == len(set(sent)), "an entry was sent twice"
        assert all(a.signed for a in arrivals)
        for case_id in opened:
            case_events = [a.entry for a in arrivals if a.entry["subject"] == case_id and a.entry["id"] in expected]
            assert [e["data"]["seq"] for e in case_events] == [1, 2]
        assert process.stop() in (0, -15)
        assert process.log().count('"event": "delivery_started"') == 2  # one delivery loop per worker
    finally:
        receiver.close()
        app.engine.dispose()


def test_due_soon_fires_once_at_its_instant_across_a_restart(
    db_url: str, tmp_path: Path, served: list[Served]
) -> None:
    folder = slow_acknowledgement_policy(tmp_path / "policies")
    clock = ManualClock(OPENED)
    app = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(folder)), clock=clock)
    try:
        waiting = app.service.open_case(POLICY, RECEIVE, occurred_at=OPENED)["id"]
        met = app.service.open_case(POLICY, RECEIVE, occurred_at=OPENED)["id"]
        clock.set(datetime(2027, 2, 9, 12, tzinfo=UTC))
        app.service.apply(met, "acknowledge", ACK)
        token = create_token(app.engine, "crm", "automation", clock.now())
        env = {"COMPLAINTS_POLICY_DIR": str(folder)}

        def reminders(process: Served) -> list[dict]:
            page = httpx.get(f"{process.url}/feed", params={"limit": 1000},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10).json()  # fmt: skip
            return [e for e in page["entries"] if e["type"] == "uk.complaints.deadline_due_soon"]

        start = REMINDER - timedelta(seconds=3)
        first = start_serve(db_url, tmp_path / "s1.log", extra_env=env, extra_args=["--clock-start", start.isoformat()])
        served.append(first)
        wait_for(lambda: any(r["subject"] == waiting for r in reminders(first)), 20, "the reminder")
        [ack] = [r for r in reminders(first) if r["subject"] == waiting]
        assert ack["time"] == "2027-02-10T00:00:00Z" and ack["data"]["kind"] == "stage_1_acknowledgement"
        late = datetime.fromisoformat(ack["data"]["recorded_at"]) - REMINDER
        assert timedelta(0) <= late < timedelta(seconds=20), f"reminded {late} after its instant"  # loaded CI: slack
        first.kill()
        after = (REMINDER + timedelta(seconds=5)).isoformat()
        second = start_serve(db_url, tmp_path / "s2.log", extra_env=env, extra_args=["--clock-start", after])
        served.append(second)
        time.sleep(1.5)  # the restarted worker sweeps at once
        kinds = sorted((r["subject"], r["data"]["kind"]) for r in reminders(second))
        assert kinds == sorted([(waiting, "stage_1_acknowledgement"), (met, "stage_1_response")])
    finally:
        app.engine.dispose()
