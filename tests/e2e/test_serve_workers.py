"""``complaints serve --workers 2`` on PostgreSQL: both workers answer requests, each deadline fires once.

Each worker runs its own timers (api/serve_workers.py says why that is safe): at the midnight both wake, the
database splits the cases between them (SKIP LOCKED, the claim), and every deadline fires exactly once.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api.http.deps import create_token
from tests.e2e.serve_process import COMPLAINTS, ROOT, Served, start_serve
from tests.e2e.test_timers import DUE, assert_clean, passed_rows, prepared, wait_for
from tests.integration.test_timers_support import POLICY, RECEIVE, passes, received_for, write_policy

pytestmark = pytest.mark.e2e


def test_two_workers_serve_requests_and_fire_each_deadline_once(
    fresh_postgres_url: str, tmp_path: Path, served: list[Served]
) -> None:
    policy_dir = write_policy(tmp_path / "policies")
    app = prepared(fresh_postgres_url, policy_dir, received_for(DUE))
    ids = {app.service.open_case(POLICY, RECEIVE, occurred_at=received_for(DUE))["id"] for _ in range(600)}
    token = create_token(app.engine, "e2e", "admin", received_for(DUE))
    lead = 15.0  # seconds of shifted clock before the midnight: the workers start and take requests first
    start = passes(DUE) - timedelta(seconds=lead)
    began = time.monotonic()  # the server's clock starts at or after this
    env = {"COMPLAINTS_POLICY_DIR": str(policy_dir), "COMPLAINTS_SWEEP_SECONDS": "60"}
    process = start_serve(
        fresh_postgres_url,
        tmp_path / "serve.log",
        extra_env=env,
        extra_args=["--workers", "2", "--clock-start", start.isoformat()],
    )
    served.append(process)
    headers = {"Authorization": f"Bearer {token}"}
    opened: set[str] = set()
    with httpx.Client(base_url=process.url, headers=headers, timeout=10) as client:
        for _ in range(20):  # over fresh connections, so both workers take some
            with httpx.Client(base_url=process.url, headers=headers, timeout=10) as fresh:
                answer = fresh.post(
                    "/cases", json={"policy": POLICY, "data": RECEIVE, "occurred_at": str(received_for(DUE))}
                )
                assert answer.status_code == 201, answer.text
                opened.add(answer.json()["id"])
        if time.monotonic() - began < lead:  # on a loaded machine the requests can outlast the lead
            assert passed_rows(app) == [], "nothing fires before its midnight"
        wait_for(lambda: len(passed_rows(app)) >= len(ids) + len(opened), 60, "every breach")
        time.sleep(1)  # anything doubled would land now
        case_id = sorted(opened)[0]
        events = client.get(f"/cases/{case_id}/events").json()
        assert [e["name"] for e in events][-1] == "deadline_passed"
    rows = passed_rows(app)
    assert len(rows) == len(ids) + len(opened) and {r.case_id for r in rows} == ids | opened
    assert all(r.occurred_at == passes(DUE) for r in rows)
    assert process.stop() in (0, -15)
    log = process.log()
    assert log.count('"event": "deadline_fired"') == len(rows)
    assert log.count('"event": "timers_started"') == 2  # one timers per worker process
    assert_clean(log)
    app.engine.dispose()


def test_workers_on_sqlite_are_refused_in_one_line(sqlite_url: str) -> None:
    env = {**os.environ, "COMPLAINTS_DB_URL": sqlite_url}
    done = subprocess.run(
        [COMPLAINTS, "serve", "--port", "0", "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: invalid_data: --workers above 1 needs PostgreSQL")
