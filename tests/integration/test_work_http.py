"""GET /work over HTTP on both backends: the page's shape, the roles, and 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from tests.http_client import Headers, serving
from workflow.clock import ManualClock

RECEIVE = {"incident_date": "2027-01-04", "channel": "web", "formal": True}
ACK = {"handler": "Ann", "handler_role": "officer", "complaint_definition": "damp"}


@pytest.fixture
def client(db_url: str) -> Iterator[tuple[TestClient, Headers]]:
    clock = ManualClock(datetime(2027, 1, 11, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    app.service.open_case("code_2024", RECEIVE, case_id="late")
    app.service.open_case("livin", {**RECEIVE, "formal": False}, case_id="informal")
    app.service.open_case("code_2024", RECEIVE, case_id="handled")
    app.service.apply("handled", "acknowledge", ACK)
    clock.set(datetime(2027, 1, 20, 9, tzinfo=UTC))
    app.service.fire_due()
    with serving(app) as served:
        yield served


def test_the_work_list_as_json(client: Any) -> None:
    http, headers = client
    answer = http.get("/work", headers=headers["analyst"])
    assert answer.status_code == 200
    body = answer.json()
    assert (body["total"], body["limit"], body["offset"], body["next_offset"], body["today"]) == (
        4, 50, 0, None, "2027-01-20",
    )  # fmt: skip
    summary = [(i["case_id"], i["kind"], i["due"], i["working_days_left"], i["breached"]) for i in body["items"]]
    assert summary == [
        ("informal", "informal_response", "2027-01-15", -3, True),  # livin: 4 WD; the breach keeps it in stage 0
        ("late", "stage_1_acknowledgement", "2027-01-18", -2, True),
        ("handled", "stage_1_response", "2027-01-25", 3, False),
        ("late", "stage_1_response", "2027-02-01", 8, False),
    ]
    first = body["items"][0]
    assert (first["state"], first["handler"], first["policy_id"], first["policy_version"]) == (
        "stage_0",
        None,
        "livin",
        1,
    )
    assert first["breach_at"] == "2027-01-16T00:00:00+00:00"
    assert body["items"][2]["handler"] == "Ann"


def test_filters_and_pages_over_http(client: Any) -> None:
    http, headers = client
    params = {"due_before": "2027-01-19", "policy": "code_2024", "limit": 1}
    page = http.get("/work", params=params, headers=headers["automation"]).json()
    assert [i["case_id"] for i in page["items"]] == ["late"] and page["total"] == 1
    page = http.get("/work", params={"limit": 2, "offset": 2}, headers=headers["auditor"]).json()
    assert [i["case_id"] for i in page["items"]] == ["handled", "late"] and page["next_offset"] is None
    page = http.get("/work", params={"handler": "ann", "state": "stage_1"}, headers=headers["admin"]).json()
    assert [i["case_id"] for i in page["items"]] == ["handled"]
    page = http.get("/work", params={"kind": "informal_response"}, headers=headers["analyst"]).json()
    assert [i["case_id"] for i in page["items"]] == ["informal"]


def test_every_reading_role_may_and_nobody_else(client: Any) -> None:
    http, headers = client
    for role in ("analyst", "automation", "auditor", "admin"):
        assert http.get("/work", headers=headers[role]).status_code == 200, role
    assert http.get("/work").status_code == 401
    assert http.get("/work", headers={"Authorization": "Bearer nope"}).status_code == 401


BAD = [
    ({"due_before": "2027-13-01"}, "due_before"),
    ({"due_before": "tomorrow"}, "due_before"),
    ({"due_before": "1700000000"}, "due_before"),
    ({"kind": "escalation_window"}, "kind"),
    ({"kind": "nothing"}, "kind"),
    ({"policy": "nobody"}, "policy"),
    ({"policy": "livin@7"}, "policy"),
    ({"state": "open"}, "state"),
    ({"limit": 0}, "limit"),
    ({"limit": 501}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"offset": -1}, "offset"),
]


@pytest.mark.parametrize(("params", "field"), BAD)
def test_bad_filters_are_422_naming_the_field(client: Any, params: dict[str, Any], field: str) -> None:
    http, headers = client
    answer = http.get("/work", params=params, headers=headers["analyst"])
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_data" and list(body["details"]) == [field], body
