"""The console's kept figures never outlive the store: a committed event shows on the next view, both backends.

The Work page, the Reports page (its tables, charts and CSV) and the process map keep what they computed
(service/store_cache.py); each view after a write must show what the API shows then.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from workflow.clock import ManualClock

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ACK = {"handler": "Ann", "handler_role": "manager", "complaint_definition": "leaking roof"}


@pytest.fixture
def console(db_url: str) -> Iterator[tuple[Any, TestClient, str]]:
    clock = ManualClock(NOW)
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    token = create_token(app.engine, "lead", "admin", NOW)
    with TestClient(create_app(app)) as http:
        http.cookies.set("cw_session", token, path="/ui")
        yield app, http, token
    app.engine.dispose()


def _open(app: Any, day: int) -> str:
    at = datetime(2026, 11, day, 9, tzinfo=UTC)
    return app.service.open_case("code_2024", {"incident_date": "2026-11-01"}, at)["id"]


def test_a_write_shows_on_the_next_view_of_every_kept_page(console: Any) -> None:
    app, http, token = console
    first = _open(app, 2)
    work = http.get("/ui/work")
    assert work.status_code == 200 and first in work.text
    assert http.get("/ui/work").text == work.text  # kept: the same page
    report = http.get("/ui/reports", params={"month": "2026-11"})
    csv = http.get("/ui/reports/trend.csv", params={"month": "2026-11"}).text
    flow = http.get("/ui/reports/flow.svg", params={"policy": "code_2024"}).content
    assert csv.strip().splitlines()[-1].split(",")[1:3] == ["2026-11", "1"]  # (table, month, received, ...)

    app.service.apply(first, "acknowledge", ACK, datetime(2026, 11, 12, 9, tzinfo=UTC))
    second = _open(app, 4)
    api_work = http.get("/work", headers={"Authorization": f"Bearer {token}"}).json()
    shown = http.get("/ui/work").text
    assert second in shown
    for item in api_work["items"]:
        assert item["case_id"] in shown
    assert http.get("/ui/reports", params={"month": "2026-11"}).text != report.text
    trend = http.get("/ui/reports/trend.csv", params={"month": "2026-11"}).text
    assert trend.strip().splitlines()[-1].split(",")[1:3] == ["2026-11", "2"]
    again = http.get("/ui/reports/flow.svg", params={"policy": "code_2024"}).content
    assert again != flow and b"acknowledge" in again


def test_the_work_page_counts_days_left_from_the_new_day(console: Any) -> None:
    app, http, _ = console
    _open(app, 16)
    before = http.get("/ui/work").text
    app.clock.set(datetime(2026, 11, 23, 10, tzinfo=UTC))  # Monday: one working day fewer left, no event
    assert http.get("/ui/work").text != before
