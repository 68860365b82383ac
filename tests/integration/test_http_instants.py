"""An instant over HTTP is ISO 8601 text: a number is never read as Unix time (issue 15, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import structlog.testing
from fastapi.testclient import TestClient

from api.bootstrap import App, Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from storage.tables import cases, events
from workflow.clock import ManualClock

RECEIVE = {"incident_date": "2026-11-20", "formal": True}
NOT_TEXT = [-1, 1700000000, 1700000000.5, True, ["2026-12-01T10:00:00Z"], {"at": "2026-12-01T10:00:00Z"}]


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[App, TestClient, dict[str, str]]]:
    app = bootstrap(Settings(db_url=sqlite_url), clock=ManualClock(datetime(2026, 12, 1, 10, tzinfo=UTC)))
    headers = {"Authorization": f"Bearer {create_token(app.engine, 'crm', 'automation', app.clock.now())}"}
    with TestClient(create_app(app)) as client:
        yield app, client, headers
    app.engine.dispose()


def rows(app: App) -> tuple[int, int]:
    with app.engine.connect() as c:
        count = sa.select(sa.func.count())
        return c.execute(count.select_from(cases)).scalar_one(), c.execute(count.select_from(events)).scalar_one()


@pytest.mark.parametrize("value", NOT_TEXT, ids=repr)
def test_opening_a_case_with_a_non_string_occurred_at_is_422_and_writes_nothing(served: Any, value: Any) -> None:
    app, client, headers = served
    answer = client.post("/cases", json={"policy": "livin", "data": RECEIVE, "occurred_at": value}, headers=headers)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_data" and "occurred_at" in body["details"]
    assert rows(app) == (0, 0)


@pytest.mark.parametrize("value", NOT_TEXT, ids=repr)
def test_an_event_with_a_non_string_occurred_at_is_422_and_writes_nothing(served: Any, value: Any) -> None:
    app, client, headers = served
    case = client.post("/cases", json={"policy": "livin", "data": RECEIVE}, headers=headers).json()
    before = rows(app)
    answer = client.post(
        f"/cases/{case['id']}/events", json={"name": "withdraw", "occurred_at": value}, headers=headers
    )
    assert answer.status_code == 422
    assert "occurred_at" in answer.json()["details"]
    assert rows(app) == before


def test_an_instant_as_text_still_works(served: Any) -> None:
    _app, client, headers = served
    body = {"policy": "livin", "data": RECEIVE, "occurred_at": "2026-12-01T09:00:00+00:00"}
    answer = client.post("/cases", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["breaches"] == []


def test_an_idempotent_replay_logs_one_replay_line_and_no_event(served: Any) -> None:
    """The replayed open is decided and rolled back: its receive was never stored, so it is never logged."""
    app, client, headers = served
    keyed = {**headers, "Idempotency-Key": "open-1"}
    body = {"policy": "livin", "data": RECEIVE}
    with structlog.testing.capture_logs() as first_logs:
        first = client.post("/cases", json=body, headers=keyed)
    assert [e["event"] for e in first_logs if e["event"] == "event_applied"] == ["event_applied"]
    with structlog.testing.capture_logs() as replay_logs:
        again = client.post("/cases", json=body, headers=keyed)
    assert again.status_code == first.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert [e["event"] for e in replay_logs if e.get("log_level") == "info"] == ["idempotent_replay"]
    assert replay_logs[0]["case_id"] == first.json()["id"]
    assert rows(app) == (1, 1)
