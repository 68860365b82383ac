"""POST /imports (admin) and GET /reports/event-log (analyst, auditor) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from tests.http_client import Headers, serving
from workflow.clock import ManualClock

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy-complaints.csv"


@pytest.fixture
def client(db_url: str) -> Iterator[tuple[TestClient, Headers]]:
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    with serving(app) as served:
        yield served


def test_import_over_http_then_find_by_reference_and_export(client: Any) -> None:
    http, who = client
    body = EXAMPLE.read_bytes()
    assert http.post("/imports?format=csv", content=body, headers=who["automation"]).status_code == 403
    dry = http.post("/imports?format=csv&dry_run=true", content=body, headers=who["admin"]).json()
    assert dry["dry_run"] and dry["cases_imported"] >= 50
    assert http.get("/cases", headers=who["analyst"]).json()["total"] == 0
    done = http.post("/imports?format=csv", content=body, headers=who["admin"]).json()
    assert done["cases_imported"] == dry["cases_imported"] and done["rejects"] == []
    again = http.post("/imports?format=csv", content=body, headers=who["admin"]).json()
    assert again["cases_imported"] == 0 and again["cases_unchanged"] == done["cases_imported"]
    found = http.get("/cases?external_ref=HMS-00001", headers=who["analyst"]).json()
    assert found["total"] == 1 and found["items"][0]["external_ref"] == "HMS-00001"

    assert http.get("/reports/event-log", headers=who["automation"]).status_code == 403
    for role in ("analyst", "auditor"):
        xes = http.get("/reports/event-log?format=xes", headers=who[role])
        assert xes.status_code == 200 and xes.headers["content-type"].startswith("application/xml")
        assert xes.text.count("<event>") == done["events_written"]
    csv_log = http.get("/reports/event-log?format=csv&policy=livin", headers=who["analyst"])
    assert csv_log.status_code == 200 and "livin@1" in csv_log.text
    assert http.get("/reports/event-log?format=ocel", headers=who["analyst"]).json()["events"]


def test_bad_imports_are_422_naming_line_and_column(client: Any) -> None:
    http, who = client
    bad = b"external_ref,event,occurred_at,colour\nA,receive,2026-11-02T10:00:00+00:00,red\n"
    answer = http.post("/imports?format=csv&policy=code_2024", content=bad, headers=who["admin"])
    assert answer.status_code == 422 and "line 1, column 'colour'" in answer.json()["detail"]
    naive = b"external_ref,event,occurred_at\nA,receive,2026-11-02T10:00:00\n"
    answer = http.post("/imports?format=csv&policy=code_2024", content=naive, headers=who["admin"])
    assert answer.status_code == 422 and "line 2, column occurred_at" in answer.json()["detail"]
    answer = http.post("/imports?format=csv&policy=nobody", content=naive, headers=who["admin"])
    assert answer.status_code == 422
    assert http.get("/cases", headers=who["analyst"]).json()["total"] == 0
    assert http.get("/reports/event-log?format=xes&policy=nobody", headers=who["analyst"]).status_code == 404
    assert http.get("/reports/event-log?format=pdf", headers=who["analyst"]).status_code == 422
