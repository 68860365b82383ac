"""Diagrams over HTTP for the analyst role: policy SVG and Mermaid, a case's path, the process map."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from workflow.clock import ManualClock

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def client(db_url: str):
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(NOW))
    tokens = {role: create_token(app.engine, role, role, NOW) for role in ("analyst", "automation")}
    case_id = app.service.open_case(
        "livin", {"incident_date": "2026-11-01", "formal": True}, datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    )["id"]
    with TestClient(create_app(app)) as http:
        yield http, tokens, case_id
    app.engine.dispose()


def _get(http: TestClient, token: str, path: str, **params: str):
    return http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def test_an_analyst_gets_every_diagram(client) -> None:
    http, tokens, case_id = client
    svg = _get(http, tokens["analyst"], "/policies/livin/diagram.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"stage_2_extended" in svg.content and b"escalation window: 14 calendar days" in svg.content
    old = _get(http, tokens["analyst"], "/policies/b3living/diagram.svg", version="1")
    assert old.status_code == 200 and b"stage_0" in old.content
    mmd = _get(http, tokens["analyst"], "/policies/b3living@2/diagram.mmd")
    assert mmd.status_code == 200 and mmd.text.startswith('---\ntitle: "b3living@2')
    case = _get(http, tokens["analyst"], f"/cases/{case_id}/diagram.svg")
    assert case.status_code == 200 and b"BREACHED" in case.content  # the acknowledgement was missed
    flow = _get(http, tokens["analyst"], "/reports/flow.svg", policy="livin", since="2026-11-01", until="2026-11-30")
    assert flow.status_code == 200 and b"receive x1" in flow.content


def test_other_roles_and_bad_input_get_a_code(client) -> None:
    http, tokens, case_id = client
    assert _get(http, tokens["automation"], "/policies/livin/diagram.svg").json()["error"] == "forbidden"
    assert http.get("/policies/livin/diagram.mmd").status_code == 401
    missing = _get(http, tokens["analyst"], "/policies/nope/diagram.svg")
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_policy")
    assert _get(http, tokens["analyst"], "/cases/nope/diagram.svg").json()["error"] == "case_not_found"
    bad = _get(http, tokens["analyst"], "/reports/flow.svg", policy="livin", since="2026-13-01")
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_data")
    backwards = _get(
        http, tokens["analyst"], "/reports/flow.svg", policy="livin", since="2026-12-01", until="2026-11-01"
    )
    assert (backwards.status_code, backwards.json()["error"]) == (422, "invalid_period")


def test_without_graphviz_svg_says_how_to_install_it_and_mermaid_still_works(client, monkeypatch) -> None:
    http, tokens, _case_id = client
    monkeypatch.setenv("PATH", "/nonexistent")
    svg = _get(http, tokens["analyst"], "/policies/code_2024/diagram.svg")
    assert svg.status_code == 503
    assert svg.json()["error"] == "graphviz_missing" and "apt-get install graphviz" in svg.json()["detail"]
    assert _get(http, tokens["analyst"], "/policies/code_2024/diagram.mmd").status_code == 200
