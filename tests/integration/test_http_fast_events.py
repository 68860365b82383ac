"""The event post's fast path (api/http/fast_events.py) answers exactly as FastAPI's route does.

Each request is sent twice on one store: to the app as served (fast path first) on one case, and to the
same app without the fast path on a twin case opened at the same instant. Answers must be equal (status,
body, the headers that matter) once the twin's id is swapped for the first's: valid posts, replays, a
reused key, every kind of bad token, header and body, refusals, stale and malformed versions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.bootstrap import App, Settings, bootstrap
from api.http import fast_events
from api.http.app import create_app
from api.http.deps import create_token
from storage.tables import events, idempotency_keys
from workflow.clock import ManualClock

START = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
RECEIVE = {"incident_date": "2027-02-20", "formal": True}
HEADERS = ("etag", "location", "www-authenticate", "idempotent-replayed", "content-type", "content-length")
ACK = {"handler": "Amy", "handler_role": "manager", "complaint_definition": "Leak not fixed"}


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(START))
    yield app
    app.engine.dispose()


def without_fast_path(app: App) -> Any:
    api = create_app(app)
    api.router.routes[:] = [r for r in api.router.routes if not isinstance(r, fast_events.FastEventRoute)]
    return api


def answer(response: Any, case_id: str, side: str) -> tuple[int, Any, dict[str, str]]:
    """The status, body and headers, with the side's case id and token names made the same."""

    def same(text: str) -> str:
        return text.replace(case_id, "CASE").replace(f"{side}-", "side-")

    text = same(response.text)
    body = json.loads(text) if text else None
    return response.status_code, body, {h: same(response.headers[h]) for h in HEADERS if h in response.headers}


def side_headers(headers: list[tuple[str, str]], side: str, tokens: dict[str, str]) -> list[tuple[str, str]]:
    names = {role: tokens[f"{side}-{role}"] for role in ("automation", "analyst", "admin")}
    return [(name, value.format(**names) if name == "Authorization" else value) for name, value in headers]


def test_every_answer_is_the_one_fastapis_route_gives(app: App) -> None:
    now = app.clock.now()
    # Keys are scoped to the caller: each side has its own tokens ("fast-..." and "slow-..."), so a key is new to each.
    tokens = {
        f"{side}-{role}": create_token(app.engine, f"{side}-{role}", role, now)
        for side in ("fast", "slow")
        for role in ("automation", "analyst", "admin")
    }
    fast_case = app.service.open_case("code_2024", RECEIVE, actor="seed")["id"]
    slow_case = app.service.open_case("code_2024", RECEIVE, actor="seed")["id"]
    auto = "Bearer {automation}"
    json_type = {"Content-Type": "application/json"}
    good = json.dumps({"name": "add_issue", "data": {"description": "damp"}})
    requests: list[tuple[str, list[tuple[str, str]], str | bytes]] = [
        ("valid, keyed", [("Authorization", auto), ("Idempotency-Key", "k1"), *json_type.items()], good),
        ("replayed", [("Authorization", auto), ("Idempotency-Key", "k1"), *json_type.items()], good),
        ("key reused", [("Authorization", auto), ("Idempotency-Key", "k1"), *json_type.items()],
         json.dumps({"name": "add_issue", "data": {"description": "other"}})),
        ("no key", [("Authorization", auto), *json_type.items()], good),
        ("lower-case scheme, charset", [("Authorization", "bearer  {automation} "),
                                        ("Content-Type", "application/json; charset=utf-8")], good),
        ("admin", [("Authorization", "Bearer {admin}"), *json_type.items()], good),
        ("analyst", [("Authorization", "Bearer {analyst}"), *json_type.items()], good),
        ("no token", [*json_type.items()], good),
        ("unknown token", [("Authorization", "Bearer nope"), *json_type.items()], good),
        ("basic", [("Authorization", "Basic abc"), *json_type.items()], good),
        ("empty bearer", [("Authorization", "Bearer "), *json_type.items()], good),
        ("bad json and no token", [*json_type.items()], "{"),
        ("bad json", [("Authorization", auto), *json_type.items()], '{"name": '),
        ("not utf-8", [("Authorization", auto), *json_type.items()], b'{"name": "\xff"}'),
        ("empty body", [("Authorization", auto), *json_type.items()], ""),
        ("no content type", [("Authorization", auto)], good),
        ("text", [("Authorization", auto), ("Content-Type", "text/plain")], good),
        ("problem+json", [("Authorization", auto), ("Content-Type", "application/problem+json")], good),
        ("a list", [("Authorization", auto), *json_type.items()], "[1]"),
        ("extra field", [("Authorization", auto), *json_type.items()], json.dumps({"name": "add_issue", "x": 1})),
        ("long name", [("Authorization", auto), *json_type.items()], json.dumps({"name": "x" * 41})),
        ("unknown event", [("Authorization", auto), *json_type.items()], json.dumps({"name": "dance"})),
        ("scheduler's event", [("Authorization", auto), *json_type.items()], json.dumps({"name": "deadline_passed"})),
        ("receive", [("Authorization", auto), *json_type.items()], json.dumps({"name": "receive"})),
        ("naive instant", [("Authorization", auto), *json_type.items()],
         json.dumps({"name": "add_issue", "data": {"description": "d"}, "occurred_at": "2027-03-01T09:00:00"})),
        ("numeric instant", [("Authorization", auto), *json_type.items()],
         json.dumps({"name": "add_issue", "data": {"description": "d"}, "occurred_at": 5})),
        ("invalid data", [("Authorization", auto), *json_type.items()], json.dumps({"name": "acknowledge"})),
        ("refused, keyed", [("Authorization", auto), ("Idempotency-Key", "r1"), *json_type.items()],
         json.dumps({"name": "respond", "data": {}})),
        ("refused again", [("Authorization", auto), ("Idempotency-Key", "r1"), *json_type.items()],
         json.dumps({"name": "respond", "data": {}})),
        ("stale version", [("Authorization", auto), ("If-Match", '"1"'), *json_type.items()], good),
        ("malformed version", [("Authorization", auto), ("If-Match", "one"), *json_type.items()], good),
        ("long version", [("Authorization", auto), ("If-Match", "1" * 41), *json_type.items()], good),
        ("empty key", [("Authorization", auto), ("Idempotency-Key", ""), *json_type.items()], good),
        ("key with a space", [("Authorization", auto), ("Idempotency-Key", "a b"), *json_type.items()], good),
        ("long key", [("Authorization", auto), ("Idempotency-Key", "k" * 201), *json_type.items()], good),
        ("two keys", [("Authorization", auto), ("Idempotency-Key", "k8"), ("Idempotency-Key", "k9"),
                      *json_type.items()], good),
        ("two tokens", [("Authorization", "Bearer nope"), ("Authorization", auto), *json_type.items()], good),
        ("acknowledged", [("Authorization", auto), ("If-Match", "7"), *json_type.items()],
         json.dumps({"name": "acknowledge", "data": ACK})),
    ]  # fmt: skip
    with TestClient(create_app(app)) as fast, TestClient(without_fast_path(app)) as slow:
        for label, headers, body in requests:
            got = fast.post(f"/cases/{fast_case}/events", content=body, headers=side_headers(headers, "fast", tokens))
            want = slow.post(f"/cases/{slow_case}/events", content=body, headers=side_headers(headers, "slow", tokens))
            assert answer(got, fast_case, "fast") == answer(want, slow_case, "slow"), label
        for path in ("/cases/no%20such/events", "/cases/unknown-case/events", "/cases/x/events/"):
            headers = side_headers([("Authorization", auto), *json_type.items()], "fast", tokens)
            got, want = fast.post(path, content=good, headers=headers), slow.post(path, content=good, headers=headers)
            assert (got.status_code, got.json()) == (want.status_code, want.json()), path
        assert fast.get("/openapi.json").json() == slow.get("/openapi.json").json()
    with app.engine.connect() as connection:
        written = [
            connection.execute(sa.select(events.c.name).where(events.c.case_id == c).order_by(events.c.seq)).all()
            for c in (fast_case, slow_case)
        ]
        assert written[0] == written[1] and written[0][-1].name == "acknowledge"
        keys = connection.execute(sa.select(sa.func.count()).select_from(idempotency_keys)).scalar_one()
        assert keys == 6  # k1, r1 and k8 on each side


def test_a_well_formed_post_takes_the_fast_path(app: App) -> None:
    token = create_token(app.engine, "bot", "automation", app.clock.now())
    case_id = app.service.open_case("code_2024", RECEIVE, actor="seed")["id"]
    api = create_app(app)
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/cases/{case_id}/events",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")],
        "app": api,
    }
    assert api.router.routes[0].matches(scope)[0].name == "FULL"
    accepted = asyncio.run(fast_events._accept(scope, b'{"name": "add_issue", "data": {"description": "d"}}'))
    assert accepted is not None and accepted[0].name == "bot" and accepted[1].name == "add_issue"
