"""The HTTP API over real HTTP: `complaints serve` as a subprocess on an SQLite file.

Every endpoint, every error code, each role's allowed and forbidden calls.
One server for the module; each test opens its own cases.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_http_helpers import LETTER, RECEIVE, ROLES, Api, served

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("http")
    with served(f"sqlite:///{folder}/api.db", folder / "serve.log") as client:
        yield client


def test_health_needs_no_token_and_the_docs_are_served(api: Api) -> None:
    health = api.call("GET", "/health", role=None)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    document = api.call("GET", "/openapi.json", role=None).json()
    assert {"/cases", "/cases/{case_id}", "/cases/{case_id}/events", "/cases/{case_id}/allowed"} <= set(
        document["paths"]
    )
    assert {"/policies", "/policies/{policy_id}", "/health"} <= set(document["paths"])
    assert "text/html" in api.call("GET", "/docs", role=None).headers["content-type"]


def test_a_case_driven_through_its_life(api: Api) -> None:
    opened = api.call("POST", "/cases", "automation", json={"policy": "code_2024", "data": RECEIVE})
    assert opened.status_code == 201
    case = opened.json()
    assert (case["state"], case["version"], case["policy"]) == ("stage_1", 1, "code_2024")
    assert opened.headers["ETag"] == '"1"' and opened.headers["Location"] == f"/cases/{case['id']}"
    assert [d["kind"] for d in case["deadlines"]] == ["stage_1_acknowledgement"]

    ack = {"handler": "Amy", "handler_role": "manager", "complaint_definition": "Leak not fixed"}
    acknowledged = api.event(case["id"], "acknowledge", ack, headers={"If-Match": '"1"'})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["version"] == 2 and acknowledged.headers["ETag"] == '"2"'
    responded = api.event(case["id"], "respond", LETTER, headers={"If-Match": "2"})
    assert responded.json()["state"] == "stage_1_responded"
    closed = api.event(case["id"], "close", {"summary": "customer satisfied"})
    assert (closed.json()["state"], closed.json()["closure_reason"]) == ("closed", "stage_1_final")

    shown = api.call("GET", f"/cases/{case['id']}", "analyst")
    assert shown.status_code == 200 and shown.json() == closed.json()
    assert shown.headers["ETag"] == '"4"'
    history = api.history(case["id"])
    assert [(e["seq"], e["name"], e["actor"]) for e in history] == [
        (1, "receive", "automation-bot"),
        (2, "acknowledge", "automation-bot"),
        (3, "respond", "automation-bot"),
        (4, "close", "automation-bot"),
    ]
    allowed = {row["event"]: row for row in api.call("GET", f"/cases/{case['id']}/allowed", "analyst").json()}
    assert set(allowed) >= {"receive", "respond", "request_escalation", "refer_to_ombudsman", "deadline_passed"}
    assert "invalid_in_state" not in allowed["request_escalation"]["reasons"]  # judged with no data given
    assert allowed["respond"] == {
        "event": "respond",
        "allowed": False,
        "reasons": ["invalid_in_state"],
        "details": allowed["respond"]["details"],
    }


def test_finding_cases_by_state_policy_breach_and_opening(api: Api) -> None:
    livin = api.open_case("livin")
    other = api.open_case("code_2024")
    api.event(other["id"], "withdraw", {"summary": "no longer needed"})
    page = api.call("GET", "/cases", "analyst", params={"policy": "livin", "state": "stage_1", "limit": 500}).json()
    assert livin["id"] in [c["id"] for c in page["items"]]
    assert all(c["policy"] == "livin" and c["state"] == "stage_1" for c in page["items"])
    closed = api.call("GET", "/cases", "auditor", params={"state": "closed", "breached": "false"}).json()
    assert other["id"] in [c["id"] for c in closed["items"]] and livin["id"] not in [c["id"] for c in closed["items"]]
    assert api.call("GET", "/cases", params={"breached": "true"}).json()["total"] == 0

    everything = api.call("GET", "/cases", params={"limit": 1}).json()
    assert everything["total"] >= 2 and len(everything["items"]) == 1 and everything["next_offset"] == 1
    second = api.call("GET", "/cases", params={"limit": 1, "offset": 1}).json()
    assert second["items"][0]["id"] != everything["items"][0]["id"]

    opened_at = livin["opened_at"]
    window = api.call("GET", "/cases", params={"opened_from": opened_at, "opened_before": "2199-12-31"}).json()
    assert livin["id"] in [c["id"] for c in window["items"]]
    future = api.call("GET", "/cases", params={"opened_from": "2199-01-01"}).json()
    assert future == {"items": [], "total": 0, "limit": 50, "offset": 0, "next_offset": None}


def test_policies(api: Api) -> None:
    listed = {(p["id"], p["version"]): p for p in api.call("GET", "/policies", "analyst").json()}
    assert listed[("b3living", 2)]["newest"] and not listed[("b3living", 1)]["newest"]
    assert ("code_2024", 1) in listed and ("livin", 1) in listed
    newest = api.call("GET", "/policies/b3living", "automation").json()
    assert (newest["id"], newest["version"]) == ("b3living", 2)
    older = api.call("GET", "/policies/b3living", "auditor", params={"version": 1}).json()
    assert older["version"] == 1
    assert api.call("GET", "/policies/b3living@1").json() == older


# -- errors: one shape, the right status ------------------------------------------


def assert_error(answer, status: int, code: str, reasons: list[str] | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "reasons", "detail", "details"}
    assert body["error"] == code and isinstance(body["detail"], str) and body["detail"]
    if reasons is not None:
        assert body["reasons"] == reasons
    return body


def test_refused_by_the_policy_is_409_with_every_reason_and_changes_nothing(api: Api) -> None:
    case = api.open_case("code_2024")
    ack = {"handler": "Amy", "handler_role": "manager", "complaint_definition": "Leak"}
    api.event(case["id"], "acknowledge", ack)
    refused = api.event(case["id"], "extend", {"new_due": "2000-01-01", "customer_agreed": True})
    body = assert_error(refused, 409, "event_refused")
    assert set(body["reasons"]) == {"new_due_invalid", "extension_reason_missing", "ombudsman_details_missing"}
    letter = assert_error(api.event(case["id"], "respond", {"decision": "upheld"}), 409, "event_refused")
    assert letter["reasons"] == ["letter_incomplete"] and "remedy" in letter["details"]["letter_incomplete"]
    assert_error(api.event(case["id"], "deadline_passed"), 409, "event_refused", ["invalid_in_state"])
    assert_error(api.event(case["id"], "refer_to_ombudsman"), 409, "event_refused", ["invalid_in_state"])
    assert api.call("GET", f"/cases/{case['id']}").json()["version"] == 2
    assert len(api.history(case["id"])) == 2


def test_data_that_does_not_fit_is_422_naming_the_field(api: Api) -> None:
    no_date = api.call("POST", "/cases", "automation", json={"policy": "livin", "data": {"formal": True}})
    assert "data.incident_date" in assert_error(no_date, 422, "invalid_data", ["invalid_data"])["details"]
    case = api.open_case("livin")
    wrong = assert_error(api.event(case["id"], "add_issue", {"colour": "red"}), 422, "invalid_data")
    assert "data.colour" in wrong["details"]
    typed = assert_error(api.event(case["id"], "withdraw", {"summary": 5}), 422, "invalid_data")
    assert "data.summary" in typed["details"]
    unknown = assert_error(api.event(case["id"], "teleport"), 422, "unknown_event", ["unknown_event"])
    assert "teleport" in unknown["detail"]


def test_a_body_the_schema_rejects_is_422_naming_the_field(api: Api) -> None:
    case = api.open_case("livin")
    path = f"/cases/{case['id']}/events"
    missing = api.call("POST", path, "automation", json={"data": {}})
    assert "name" in assert_error(missing, 422, "invalid_data", ["invalid_data"])["details"]
    naive = api.call("POST", path, "automation", json={"name": "withdraw", "occurred_at": "2026-01-01T10:00:00"})
    assert "occurred_at" in assert_error(naive, 422, "invalid_data")["details"]
    extra = api.call("POST", path, "automation", json={"name": "withdraw", "actor": "someone else"})
    assert "actor" in assert_error(extra, 422, "invalid_data")["details"]
    not_json = api.call("POST", path, "automation", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(not_json, 422, "invalid_data")
    not_object = api.call("POST", path, "automation", json={"name": "withdraw", "data": [1, 2]})
    assert "data" in assert_error(not_object, 422, "invalid_data")["details"]
    bad_query = api.call("GET", "/cases", "analyst", params={"state": "limbo", "limit": 0})
    assert {"state", "limit"} <= set(assert_error(bad_query, 422, "invalid_data")["details"])
    bad_policy = api.call("POST", "/cases", "automation", json={"policy": "livin@x", "data": RECEIVE})
    assert "policy" in assert_error(bad_policy, 422, "invalid_data")["details"]
    assert api.call("GET", f"/cases/{case['id']}").json()["version"] == 1


def test_unknown_case_or_policy_is_404(api: Api) -> None:
    assert_error(api.call("GET", "/cases/no-such-case"), 404, "case_not_found")
    assert_error(api.call("GET", "/cases/no-such-case/events"), 404, "case_not_found")
    assert_error(api.call("GET", "/cases/no-such-case/allowed"), 404, "case_not_found")
    assert_error(api.event("no-such-case", "withdraw"), 404, "case_not_found")
    assert_error(api.call("GET", "/cases/%00%01"), 404, "case_not_found")
    assert_error(api.call("GET", "/policies/nope"), 404, "unknown_policy")
    assert_error(api.call("GET", "/policies/livin", params={"version": 99}), 404, "unknown_policy")
    assert_error(api.call("GET", "/cases", params={"policy": "nope"}), 404, "unknown_policy")
    unknown = api.call("POST", "/cases", "automation", json={"policy": "nope", "data": RECEIVE})
    assert_error(unknown, 404, "unknown_policy")
    assert_error(api.call("GET", "/no/such/route"), 404, "not_found")
    assert_error(api.call("DELETE", "/cases"), 405, "method_not_allowed")


def test_a_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    case = api.open_case("livin")
    assert api.event(case["id"], "add_issue", {"description": "a"}, headers={"If-Match": "1"}).status_code == 200
    stale = api.event(case["id"], "add_issue", {"description": "b"}, headers={"If-Match": "1"})
    assert_error(stale, 412, "version_conflict")
    assert api.call("GET", f"/cases/{case['id']}").json()["version"] == 2
    assert len(api.history(case["id"])) == 2
    malformed = api.event(case["id"], "add_issue", {"description": "c"}, headers={"If-Match": "two"})
    assert "If-Match" in assert_error(malformed, 422, "invalid_data", ["invalid_data"])["details"]
    anything = api.event(case["id"], "add_issue", {"description": "d"}, headers={"If-Match": "*"})
    assert anything.json()["version"] == 3


def test_no_token_is_401_and_a_wrong_role_is_403(api: Api) -> None:
    body = assert_error(api.call("GET", "/cases", role=None), 401, "unauthorized")
    assert "token" in body["detail"]
    bad = api.call("GET", "/cases", role=None, headers={"Authorization": "Bearer cw_not-a-token"})
    assert_error(bad, 401, "unauthorized")
    basic = api.call("GET", "/policies", role=None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(basic, 401, "unauthorized")
    assert_error(api.call("POST", "/cases", "analyst", json={"policy": "livin", "data": RECEIVE}), 403, "forbidden")


def test_each_role_may_do_its_own_calls_and_nothing_else(api: Api) -> None:
    case = api.open_case("livin")
    case_path = f"/cases/{case['id']}"
    calls = {
        "open": ("POST", "/cases", {"json": {"policy": "livin", "data": RECEIVE}}),
        "event": ("POST", f"{case_path}/events", {"json": {"name": "add_issue", "data": {"description": "x"}}}),
        "list": ("GET", "/cases", {}),
        "read": ("GET", case_path, {}),
        "allowed": ("GET", f"{case_path}/allowed", {}),
        "history": ("GET", f"{case_path}/events", {}),
        "policies": ("GET", "/policies", {}),
        "policy": ("GET", "/policies/livin", {}),
        "token": ("POST", "/tokens", {"json": {"name": "another", "role": "analyst"}}),
    }
    reads = {"list", "read", "allowed", "policies", "policy"}
    may = {
        "automation": reads | {"open", "event"},
        "analyst": reads,
        "auditor": reads | {"history"},
        "admin": set(calls),
    }
    for role in ROLES:
        for name, (method, path, kwargs) in calls.items():
            answer = api.call(method, path, role, **kwargs)
            if name in may[role]:
                assert answer.status_code < 300, (role, name, answer.text)
            else:
                assert_error(answer, 403, "forbidden")
    events = api.history(case["id"])
    assert [e["actor"] for e in events[1:]] == ["automation-bot", "ops admin"]


def test_a_token_made_by_an_admin_works_and_a_bad_request_for_one_is_422(api: Api) -> None:
    made = api.call("POST", "/tokens", "admin", json={"name": "crm", "role": "automation"})
    assert made.status_code == 201 and made.json()["role"] == "automation"
    crm = made.json()["token"]
    opened = api.call(
        "POST", "/cases", None, json={"policy": "livin", "data": RECEIVE}, headers={"Authorization": f"Bearer {crm}"}
    )
    assert opened.status_code == 201
    assert api.history(opened.json()["id"])[0]["actor"] == "crm"
    assert_error(api.call("POST", "/tokens", json={"name": "x", "role": "root"}), 422, "invalid_data")
    assert_error(api.call("POST", "/tokens", json={"name": " ", "role": "analyst"}), 422, "invalid_data")


def test_idempotent_retry_answers_the_first_response_and_writes_nothing(api: Api) -> None:
    key = {"Idempotency-Key": "open-4711"}
    first = api.call("POST", "/cases", "automation", json={"policy": "livin", "data": RECEIVE}, headers=key)
    again = api.call("POST", "/cases", "automation", json={"policy": "livin", "data": RECEIVE}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.call("POST", "/cases", "automation", json={"policy": "code_2024", "data": RECEIVE}, headers=key)
    assert "Idempotency-Key" in assert_error(other, 422, "idempotency_key_reused")["details"]
    # the key is the caller's: another token may use the same string for its own request
    mine = api.call("POST", "/cases", "admin", json={"policy": "code_2024", "data": RECEIVE}, headers=key)
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]

    case_id = first.json()["id"]
    retry = {"Idempotency-Key": "issue-1"}
    posted = [api.event(case_id, "add_issue", {"description": "damp"}, headers=retry) for _ in range(3)]
    assert {p.status_code for p in posted} == {200} and len({p.text for p in posted}) == 1
    assert [e["name"] for e in api.history(case_id)] == ["receive", "add_issue"]
    refusal = {"Idempotency-Key": "respond-1"}
    refused = [api.event(case_id, "respond", {"decision": "x"}, headers=refusal) for _ in range(2)]
    assert [r.status_code for r in refused] == [409, 409] and refused[1].headers["Idempotent-Replayed"] == "true"
    assert refused[0].json() == refused[1].json()
