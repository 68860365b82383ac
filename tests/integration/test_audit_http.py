"""The auditor's HTTP routes in-process (FastAPI TestClient) on SQLite and PostgreSQL: answers, roles, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.bootstrap import App, Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from storage.tables import events
from workflow.clock import ManualClock

START = datetime(2026, 12, 18, 10, tzinfo=UTC)


@pytest.fixture
def served(db_url: str) -> Iterator[tuple[App, TestClient, dict[str, dict[str, str]]]]:
    clock = ManualClock(START)
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    app.service.open_case("b3living", {"incident_date": "2026-12-10", "formal": True}, case_id="c1")
    clock.advance(timedelta(days=4, hours=1))
    ack = {"handler": "amy", "handler_role": "manager", "complaint_definition": "Boiler", "outcomes_sought": "Fix"}
    app.service.apply("c1", "acknowledge", ack, occurred_at=START + timedelta(days=2))  # back-dated
    tokens = {
        role: {"Authorization": f"Bearer {create_token(app.engine, role, role, START)}"}
        for role in ("auditor", "analyst", "automation", "admin")
    }
    with TestClient(create_app(app)) as client:
        yield app, client, tokens
    app.engine.dispose()


def test_replay_now_as_of_and_known_at(served: tuple[App, TestClient, dict[str, dict[str, str]]]) -> None:
    _app, client, tokens = served
    now = client.get("/cases/c1/replay", headers=tokens["auditor"])
    assert now.status_code == 200 and now.json()["events_folded"] == [1, 2]
    middle = "2026-12-21T12:00:00Z"  # after the acknowledgement happened (20 Dec), before it was recorded (22 Dec)
    as_of = client.get("/cases/c1/replay", params={"as_of": middle}, headers=tokens["auditor"]).json()
    known = client.get("/cases/c1/replay", params={"known_at": middle}, headers=tokens["auditor"]).json()
    assert as_of["events_folded"] == [1, 2] and known["events_folded"] == [1]
    assert {d["kind"] for d in known["deadlines"]} == {"stage_1_acknowledgement", "stage_1_response"}
    assert {d["kind"] for d in as_of["deadlines"]} == {"stage_1_response"}


def test_verify_timeline_and_what_if(served: tuple[App, TestClient, dict[str, dict[str, str]]]) -> None:
    app, client, tokens = served
    assert client.get("/cases/c1/verify", headers=tokens["auditor"]).json() == {
        "ok": True,
        "cases": 1,
        "events": 2,
        "problems": [],
    }
    timeline = client.get("/cases/c1/timeline", headers=tokens["auditor"]).json()
    assert [e["name"] for e in timeline["events"]] == ["receive", "acknowledge"]
    assert timeline["events"][1]["closed"][0]["working_days_taken"] == 0  # 18 Dec (Fri) -> 20 Dec (Sun)
    html = client.get("/cases/c1/timeline", params={"format": "html"}, headers=tokens["admin"])
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<!DOCTYPE html>") and "<style>" in html.text
    assert not re.search(r"(src|href)=|@import|url\(", html.text), "the HTML must be self-contained"
    text = client.get("/cases/c1/timeline", params={"format": "text"}, headers=tokens["auditor"])
    assert text.headers["content-type"].startswith("text/plain") and "(back-dated)" in text.text
    what_if = client.get("/cases/c1/what-if", params={"policy": "code_2024@1"}, headers=tokens["auditor"]).json()
    assert what_if["what_if_policy"] == "code_2024@1" and what_if["differs"]

    with app.engine.begin() as connection:
        connection.execute(sa.update(events).where(events.c.seq == 2).values(actor="someone else"))
    broken = client.get("/cases/c1/verify", headers=tokens["auditor"]).json()
    assert broken["ok"] is False
    assert broken["problems"] == [
        {"case_id": "c1", "seq": 2, "code": "hash_mismatch", "detail": "the event's content does not match its hash"}
    ]


@pytest.mark.parametrize("path", ["replay", "verify", "timeline", "what-if?policy=livin"])
def test_only_auditors_and_admins(served: tuple[App, TestClient, dict[str, dict[str, str]]], path: str) -> None:
    _app, client, tokens = served
    assert client.get(f"/cases/c1/{path}").status_code == 401
    for role in ("analyst", "automation"):
        answer = client.get(f"/cases/c1/{path}", headers=tokens[role])
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert client.get(f"/cases/c1/{path}", headers=tokens["admin"]).status_code == 200


def test_bad_input_is_a_clear_4xx(served: tuple[App, TestClient, dict[str, dict[str, str]]]) -> None:
    _app, client, tokens = served
    auditor = tokens["auditor"]
    missing = client.get("/cases/nope/replay", headers=auditor)
    assert missing.status_code == 404 and missing.json()["error"] == "case_not_found"
    naive = client.get("/cases/c1/replay", params={"as_of": "2026-12-21T12:00:00"}, headers=auditor)
    assert naive.status_code == 422 and naive.json()["reasons"] == ["invalid_data"]
    assert "UTC offset" in naive.json()["detail"]
    garbage = client.get("/cases/c1/replay", params={"known_at": "yesterday"}, headers=auditor)
    assert garbage.status_code == 422 and garbage.json()["error"] == "invalid_data"
    policy = client.get("/cases/c1/what-if", params={"policy": "nobody"}, headers=auditor)
    assert policy.status_code == 404 and policy.json()["error"] == "unknown_policy"
    no_policy = client.get("/cases/c1/what-if", headers=auditor)
    assert no_policy.status_code == 422 and no_policy.json()["error"] == "invalid_data"
    fmt = client.get("/cases/c1/timeline", params={"format": "pdf"}, headers=auditor)
    assert fmt.status_code == 422 and fmt.json()["error"] == "invalid_data"
