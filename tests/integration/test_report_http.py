"""GET /reports/tsm, /reports/kpi and /policies/{id}/lint: the analyst's reports over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from tests.http_client import Headers, serving
from workflow.clock import ManualClock

LETTER = {"decision": "d", "reasons": "r", "remedy": "x", "outstanding_actions": "none", "escalation_route": "e"}


@pytest.fixture
def client(db_url: str) -> Iterator[tuple[TestClient, Headers]]:
    clock = ManualClock(datetime(2025, 5, 1, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    case = app.service.open_case("code_2024", {"incident_date": "2025-04-28", "channel": "web"})
    clock.advance(timedelta(days=1))
    acknowledgement = {"handler": "a", "handler_role": "officer", "complaint_definition": "x"}
    app.service.apply(case["id"], "acknowledge", acknowledgement)
    clock.advance(timedelta(days=2))
    app.service.apply(case["id"], "respond", LETTER)
    with serving(app) as served:
        yield served


def test_the_analyst_gets_the_tsm_as_json(client: Any) -> None:
    http, headers = client
    answer = http.get("/reports/tsm", params={"year": 2025, "homes": 500}, headers=headers["analyst"])
    assert answer.status_code == 200
    body = answer.json()
    assert body["CH01"]["stage_1"] == {"received": 1, "per_1000_homes": 2.0}
    assert body["CH02"]["stage_1"] == {"responded": 1, "within_timescale": 1, "percent": 100.0}


def test_reports_come_as_csv_markdown_or_text_too(client: Any) -> None:
    http, headers = client
    csv = http.get("/reports/kpi", params={"month": "2025-05", "format": "csv"}, headers=headers["analyst"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "Received by stage and channel,stage_1,web,1" in csv.text
    md = http.get("/policies/livin/lint", params={"format": "md"}, headers=headers["analyst"])
    assert md.headers["content-type"].startswith("text/markdown")
    assert "| 6.12 | escalation_reasons | does not comply |" in md.text
    text = http.get("/reports/tsm", params={"year": 2025, "homes": 9, "format": "text"}, headers=headers["admin"])
    assert text.status_code == 200 and "CH01 stage 1" in text.text


def test_a_policy_that_does_not_comply_is_a_finding_not_an_error(client: Any) -> None:
    http, headers = client
    livin = http.get("/policies/livin@1/lint", headers=headers["analyst"]).json()
    assert livin["complies"] is False and livin["does_not_comply"] == 10
    assert http.get("/policies/code_2024/lint", headers=headers["analyst"]).json()["complies"] is True


def test_only_analysts_and_admins_read_reports(client: Any) -> None:
    http, headers = client
    for role in ("automation", "auditor"):
        for url in ("/reports/tsm?year=2025&homes=1", "/reports/kpi?month=2025-05", "/policies/livin/lint"):
            answer = http.get(url, headers=headers[role])
            assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert http.get("/reports/kpi?month=2025-05").status_code == 401


BAD_REQUESTS = [
    ("/reports/kpi?month=2025-13", 422, "invalid_data"),
    ("/reports/kpi?month=May", 422, "invalid_data"),
    ("/reports/kpi?month=2025-05&policy=nobody", 404, "unknown_policy"),
    ("/reports/tsm?year=2025&homes=0", 422, "invalid_data"),
    ("/reports/tsm?year=1900&homes=10", 422, "invalid_data"),
    ("/reports/tsm?homes=10", 422, "invalid_data"),
    ("/reports/tsm?year=2025&homes=10&format=xml", 422, "invalid_data"),
    ("/policies/nobody/lint", 404, "unknown_policy"),
    ("/policies/livin@9/lint", 404, "unknown_policy"),
]


def test_bad_report_requests_are_refused_with_a_reason(client: Any) -> None:
    http, headers = client
    for url, status, code in BAD_REQUESTS:
        answer = http.get(url, headers=headers["analyst"])
        assert (answer.status_code, answer.json()["error"]) == (status, code), url
