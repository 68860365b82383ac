"""``complaints serve`` as a real process: deadlines fire on time, once, across kill -9 and restarts, and
between two instances on one PostgreSQL.

Breach instants are local midnights, so each served process runs on a clock
started a few seconds before one (``--clock-start``, scheduler/clock.py); the
cases come from a made-up policy whose clocks are one calendar day
(tests/integration/test_timers_support.py), opened over HTTP or, before a
process starts, through the service in the test process on the same database.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.bootstrap import App, Settings, bootstrap
from api.http.deps import create_token
from storage.tables import events
from tests.e2e.serve_process import COMPLAINTS, ROOT, Served, start_serve
from tests.integration.test_timers_support import POLICY, RECEIVE, passes, received_for, write_policy
from workflow.clock import ManualClock
from workflow.vocabulary import DEADLINE_PASSED

pytestmark = pytest.mark.e2e
DUE = date(2027, 2, 10)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "policies")


def prepared(db_url: str, policy_dir: Path, at: datetime) -> App:
    """The database migrated, and a service on it in this process (its clock stopped at ``at``)."""
    return bootstrap(Settings(db_url=db_url, extra_policy_dir=str(policy_dir)), clock=ManualClock(at))


def serve(db_url: str, log: Path, policy_dir: Path, clock_start: datetime, started: list[Served]) -> Served:
    env = {"COMPLAINTS_POLICY_DIR": str(policy_dir), "COMPLAINTS_SWEEP_SECONDS": "60"}
    process = start_serve(db_url, log, extra_env=env, extra_args=["--clock-start", clock_start.isoformat()])
    started.append(process)
    return process


def passed_rows(app: App) -> list[sa.Row]:
    with app.engine.connect() as c:
        return list(c.execute(sa.select(events).where(events.c.name == DEADLINE_PASSED).order_by(events.c.id)))


def all_rows(app: App) -> list[tuple[object, ...]]:
    with app.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.select(events).order_by(events.c.id))]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def assert_clean(log: str) -> None:
    assert "Traceback" not in log and '"level": "error"' not in log and "ERROR" not in log, log[-3000:]


def test_serve_fires_deadlines_opened_over_http_at_their_breach_instant(
    sqlite_url: str, policy_dir: Path, tmp_path: Path, served: list[Served]
) -> None:
    instant = passes(DUE)
    app = prepared(sqlite_url, policy_dir, instant)
    token = create_token(app.engine, "e2e", "admin", instant)
    process = serve(sqlite_url, tmp_path / "serve.log", policy_dir, instant - timedelta(seconds=4), served)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=process.url, headers=headers, timeout=10) as client:
        open_and_watch_over_http(client, instant)
    assert process.stop() in (0, -15)  # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal
    log = process.log()
    assert '"event": "timers_stopped"' in log and log.count('"event": "deadline_fired"') == 3
    assert_clean(log)
    app.engine.dispose()


def open_and_watch_over_http(client: httpx.Client, instant: datetime) -> None:
    opened: list[str] = []
    for _ in range(3):  # back-dated a day: acknowledgement due DUE, passing at the next local midnight
        answer = client.post("/cases", json={"policy": POLICY, "data": RECEIVE, "occurred_at": str(received_for(DUE))})
        assert answer.status_code == 201, answer.text
        opened.append(answer.json()["id"])
    assert all(client.get(f"/cases/{c}/events").json()[-1]["name"] == "receive" for c in opened), "not yet"

    def breached(case_id: str) -> list[dict[str, object]]:
        return [e for e in client.get(f"/cases/{case_id}/events").json() if e["name"] == DEADLINE_PASSED]

    wait_for(lambda: all(breached(c) for c in opened), 15, "the breaches over HTTP")
    for case_id in opened:
        (event,) = breached(case_id)
        assert datetime.fromisoformat(str(event["occurred_at"])) == instant
        late = datetime.fromisoformat(str(event["recorded_at"])) - instant
        assert timedelta(0) <= late < timedelta(seconds=20), f"fired {late} after its breach instant"  # not the sweep


def test_after_kill_9_the_deadlines_that_passed_while_down_fire_once_in_due_order(
    sqlite_url: str, policy_dir: Path, tmp_path: Path, served: list[Served]
) -> None:
    day_2, day_3 = DUE + timedelta(days=1), DUE + timedelta(days=2)
    app = prepared(sqlite_url, policy_dir, received_for(DUE))
    first = [app.service.open_case(POLICY, RECEIVE, occurred_at=received_for(DUE))["id"] for _ in range(2)]
    app.clock.set(received_for(day_2))  # type: ignore[attr-defined]
    later = app.service.open_case(POLICY, RECEIVE, occurred_at=received_for(day_2))["id"]

    one = serve(sqlite_url, tmp_path / "one.log", policy_dir, passes(DUE) - timedelta(seconds=3), served)
    wait_for(lambda: len(passed_rows(app)) == 2, 15, "the first instant's breaches")
    one.kill()  # kill -9 with the next deadlines pending
    before = all_rows(app)
    assert "timers_stopped" not in one.log()

    # down for two local midnights: the provisional responses of the first two and both clocks of the third passed
    two = serve(sqlite_url, tmp_path / "two.log", policy_dir, passes(day_3) + timedelta(seconds=2), served)
    wait_for(lambda: len(passed_rows(app)) == 6, 15, "the backlog to fire")
    time.sleep(0.5)

    rows = passed_rows(app)
    assert len(rows) == 6 and len({(r.case_id, r.data["deadline"], r.data["due"]) for r in rows}) == 6
    assert all_rows(app)[: len(before)] == before, "nothing already in the history changed"
    fired_now = rows[2:]
    assert [r.occurred_at for r in fired_now] == [passes(day_2)] * 3 + [passes(day_3)], "in due order"
    assert {r.case_id for r in fired_now[:3]} == {*first, later}
    assert [r.data["deadline"] for r in fired_now if r.case_id == later] == [
        "stage_1_acknowledgement",
        "stage_1_response",
    ]
    for r in rows:
        assert r.occurred_at == passes(date.fromisoformat(r.data["due"])), "stamped with its own breach instant"
    assert two.stop() in (0, -15)
    assert_clean(one.log() + two.log())
    app.engine.dispose()


def test_two_instances_on_postgresql_fire_1000_deadlines_exactly_once(
    fresh_postgres_url: str, policy_dir: Path, tmp_path: Path, served: list[Served]
) -> None:
    app = prepared(fresh_postgres_url, policy_dir, received_for(DUE))
    ids = {app.service.open_case(POLICY, RECEIVE, occurred_at=received_for(DUE))["id"] for _ in range(1000)}
    start = passes(DUE) - timedelta(seconds=3)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    threads = [
        threading.Thread(target=serve, args=(fresh_postgres_url, log, policy_dir, start, served)) for log in logs
    ]
    for t in threads:  # both processes start together, so both wake at the same midnight
        t.start()
    for t in threads:
        t.join(60)
    assert len(served) == 2

    wait_for(lambda: len(passed_rows(app)) >= 1000, 60, "1,000 breaches")
    time.sleep(1)  # anything doubled would land now

    rows = passed_rows(app)
    assert len(rows) == 1000 and {r.case_id for r in rows} == ids
    assert all(r.occurred_at == passes(DUE) for r in rows)
    for process in served:
        assert process.stop() in (0, -15)
    texts = [log.read_text() for log in logs]
    assert sum(t.count('"event": "deadline_fired"') for t in texts) == 1000
    for text in texts:
        assert_clean(text)
    app.engine.dispose()


def test_serve_on_a_broken_database_says_so_in_one_line_and_exits(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_text("this is not a database\n" * 10)
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{broken}"}
    done = subprocess.run(
        [COMPLAINTS, "serve", "--port", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: database_unavailable: cannot open the database sqlite:///{broken}: file is not a database"
    ]
    assert done.stdout == ""


def test_deadlines_list_shows_what_the_timers_will_fire(sqlite_url: str, policy_dir: Path) -> None:
    app = prepared(sqlite_url, policy_dir, received_for(DUE))
    early = app.service.open_case(POLICY, RECEIVE, occurred_at=received_for(DUE))["id"]
    app.clock.set(received_for(DUE + timedelta(days=3)))  # type: ignore[attr-defined]
    app.service.open_case("code_2024", {"incident_date": "2027-02-01", "formal": True})
    env = {**os.environ, "COMPLAINTS_DB_URL": sqlite_url, "COMPLAINTS_POLICY_DIR": str(policy_dir)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [COMPLAINTS, "deadlines", "list", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    listing = run().stdout.splitlines()
    assert listing[-1] == "2 open deadlines"
    assert listing[0].startswith(f"{DUE.isoformat()}  passes {passes(DUE).isoformat()}  stage_1_acknowledgement")
    assert early in listing[0] and "OVERDUE" not in listing[0]  # the command's clock is the real one
    only = run("--due-before", (DUE + timedelta(days=1)).isoformat(), "--kind", "stage_1_acknowledgement")
    assert only.stdout.splitlines()[-1] == "1 open deadline"
    bad = run("--kind", "lunch")
    assert bad.returncode == 2 and bad.stderr.startswith("error: invalid_data: --kind 'lunch'")
    assert len(bad.stderr.splitlines()) == 1
    app.engine.dispose()


def test_clock_start_without_an_offset_is_refused(sqlite_url: str) -> None:
    env = {**os.environ, "COMPLAINTS_DB_URL": sqlite_url}
    done = subprocess.run(
        [COMPLAINTS, "serve", "--clock-start", "2027-02-10T23:59:57"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: invalid_data: --clock-start")
