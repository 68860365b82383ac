"""Clients that retry and race, over real HTTP, on SQLite and PostgreSQL.

- The same POST sent 5 times at once with one Idempotency-Key writes one event (one case).
- 20 concurrent conflicting events on one case: each answer is 2xx, 409 or 412; the history is a valid
  sequence and replaying it gives exactly the stored case.
- Keys are kept in the database: a retry after a restart is still answered from the first response.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.bootstrap import Settings, bootstrap
from tests.e2e.test_http_helpers import LETTER, RECEIVE, Api, served
from workflow.audit.history import replay

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Api]]:
    folder = tmp_path_factory.mktemp(f"race-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/race.db"
    else:
        url = request.getfixturevalue("pg_server").make_database()
    with served(url, folder / "serve.log") as api:
        yield url, api


def at_once(n: int, send: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """Run ``send(i)`` for i in range(n) on n threads released together."""
    start = threading.Barrier(n)

    def go(i: int) -> httpx.Response:
        start.wait()
        return send(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, range(n)))


def test_five_concurrent_retries_with_one_key_write_one_event(backend: tuple[str, Api]) -> None:
    _url, api = backend
    case = api.open_case("livin")
    key = {"Idempotency-Key": f"issue-{case['id']}"}
    answers = at_once(5, lambda _i: api.event(case["id"], "add_issue", {"description": "damp"}, headers=key))
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 4
    assert [e["name"] for e in api.history(case["id"])] == ["receive", "add_issue"]


def test_five_concurrent_openings_with_one_key_open_one_case(backend: tuple[str, Api]) -> None:
    _url, api = backend
    key = {"Idempotency-Key": "open-once"}
    body = {"policy": "brighter_places", "data": RECEIVE}
    before = api.call("GET", "/cases", params={"policy": "brighter_places"}).json()["total"]
    answers = at_once(5, lambda _i: api.call("POST", "/cases", "automation", json=body, headers=key))
    assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert api.call("GET", "/cases", params={"policy": "brighter_places"}).json()["total"] == before + 1


def test_twenty_conflicting_events_leave_a_valid_history_that_replays_to_the_stored_case(
    backend: tuple[str, Api],
) -> None:
    url, api = backend
    case = api.open_case("code_2024")

    def send(i: int) -> httpx.Response:
        headers = {"If-Match": "1"} if i % 3 == 0 else {}
        if i % 2:
            return api.event(case["id"], "withdraw", {"summary": f"withdrawn {i}"}, headers=headers)
        return api.event(case["id"], "respond", LETTER, headers=headers)

    answers = at_once(20, send)
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 409, 412}, [a.text for a in answers if a.status_code not in (200, 409, 412)]
    assert 1 <= statuses.count(200) <= 2
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["reasons"] == ["invalid_in_state"]

    history = api.history(case["id"])
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    assert len(history) == 1 + statuses.count(200)
    for before, after in zip(history, history[1:], strict=False):
        assert after["state_before"] == before["state_after"]
    assert history[-1]["state_after"] in ("stage_1_responded", "closed")

    app = bootstrap(Settings(db_url=url), migrate=False)
    try:
        stored = app.service.load(case["id"])
        records = app.service.history(case["id"])
        replayed = replay(case["id"], app.catalog.get(stored.policy_id, stored.policy_version), records)
        assert replayed.to_dict() == stored.to_dict()
    finally:
        app.engine.dispose()
    shown = api.call("GET", f"/cases/{case['id']}").json()
    assert (
        (shown["state"], shown["version"])
        == (stored.state, stored.version)
        == (history[-1]["state_after"], len(history))
    )


@pytest.mark.parametrize("backend_name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_idempotency_keys_survive_a_restart(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path}/restart.db"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    body: dict[str, Any] = {"name": "add_issue", "data": {"description": "mould"}}
    key = {"Idempotency-Key": "before-restart"}
    with served(url, tmp_path / "first.log") as api:
        case = api.open_case("livin")
        first = api.call("POST", f"/cases/{case['id']}/events", "automation", json=body, headers=key)
        assert first.status_code == 200
        automation = api.tokens["automation"]
    with served(url, tmp_path / "second.log") as api:
        api.tokens["automation"] = automation  # the same caller as before the restart
        again = api.call("POST", f"/cases/{case['id']}/events", "automation", json=body, headers=key)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert [e["name"] for e in api.history(case["id"])] == ["receive", "add_issue"]
