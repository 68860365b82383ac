"""Idempotency keys and case queries against real SQLite and PostgreSQL, below HTTP.

The key row is written in the command's own transaction, so racing requests
with one key leave exactly one event (or one case), and a key that is taken
makes the command write nothing at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from api.bootstrap import App, Settings, bootstrap
from storage import idempotency
from storage.idempotency import IdempotencyGuard, KeyTaken
from storage.queries import CaseQuery
from storage.tables import cases, events
from workflow.audit.history import EventRecord
from workflow.clock import ManualClock
from workflow.engine import apply

START = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
RECEIVE = {"incident_date": "2027-02-20", "formal": True}


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(START))
    yield app
    app.engine.dispose()


def count(app: App, table: sa.Table) -> int:
    with app.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def race(n: int, attempt: Callable[[], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[KeyTaken]]:
    """Run ``attempt`` on n threads released together: the answers, and the KeyTaken raised."""
    start = threading.Barrier(n)

    def go(_i: int) -> dict[str, Any] | KeyTaken:
        start.wait()
        try:
            return attempt()
        except KeyTaken as taken:
            return taken

    with ThreadPoolExecutor(max_workers=n) as pool:
        outcomes = list(pool.map(go, range(n)))
    return [o for o in outcomes if isinstance(o, dict)], [o for o in outcomes if isinstance(o, KeyTaken)]


def guard(app: App, key: str, status: int = 200) -> IdempotencyGuard:
    return IdempotencyGuard(idempotency.scoped_key("crm", key), "fingerprint", status, app.clock.now())


def test_racing_events_with_one_key_write_one_event(app: App) -> None:
    case = app.service.open_case("livin", RECEIVE, actor="crm")
    won, lost = race(
        5, lambda: app.service.apply(case["id"], "add_issue", {"description": "x"}, actor="crm", hook=guard(app, "k"))
    )
    assert len(won) == 1 and len(lost) == 4
    assert all(t.stored.body == won[0] and t.stored.status_code == 200 for t in lost)
    assert [r.name for r in app.service.history(case["id"])] == ["receive", "add_issue"]


def test_racing_openings_with_one_key_open_one_case(app: App) -> None:
    won, lost = race(5, lambda: app.service.open_case("livin", RECEIVE, actor="crm", hook=guard(app, "open", 201)))
    assert len(won) == 1 and len(lost) == 4
    assert {t.stored.body["id"] for t in lost} == {won[0]["id"]}
    assert count(app, cases) == 1 and count(app, events) == 1


def test_a_taken_key_makes_the_command_write_nothing(app: App) -> None:
    case = app.service.open_case("livin", RECEIVE, actor="crm")
    first = guard(app, "once")
    app.service.apply(case["id"], "withdraw", {"summary": "done"}, actor="crm", hook=first)
    with pytest.raises(KeyTaken) as taken:
        app.service.apply(case["id"], "withdraw", {"summary": "done"}, actor="crm", hook=guard(app, "once"))
    assert taken.value.stored.body["state"] == "closed"  # the first answer, not a refusal in state closed
    assert count(app, events) == 2
    with pytest.raises(KeyTaken):
        app.service.open_case("livin", RECEIVE, actor="crm", hook=guard(app, "once"))
    assert count(app, cases) == 1


class Statements:
    """The SQL each thread sends, recorded from the engine's ``before_cursor_execute`` event."""

    def __init__(self, engine: sa.Engine) -> None:
        self.by_thread: dict[int, list[str]] = {}
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.by_thread.setdefault(threading.get_ident(), []).append(" ".join(statement.split()))


def test_a_command_reads_its_key_with_the_locked_case(app: App) -> None:
    """One statement reads the case, its chain head and the key's row: no separate key lookup."""
    case = app.service.open_case("livin", RECEIVE, actor="crm")
    seen = Statements(app.engine)
    app.service.apply(case["id"], "add_issue", {"description": "x"}, actor="crm", hook=guard(app, "fresh"))
    with pytest.raises(KeyTaken) as taken:
        app.service.apply(case["id"], "add_issue", {"description": "x"}, actor="crm", hook=guard(app, "fresh"))
    assert taken.value.stored.status_code == 200
    sent = seen.by_thread[threading.get_ident()]
    assert not [s for s in sent if s.startswith("SELECT") and "FROM idempotency_keys" in s]  # only the joined read
    assert len([s for s in sent if "LEFT OUTER JOIN idempotency_keys" in s]) == 2
    assert len([s for s in sent if s.startswith("INSERT INTO events")]) == 1  # the replay wrote nothing


def test_a_key_taken_by_the_writer_a_command_waited_for_refuses_it_before_it_writes(app: App) -> None:
    """On PostgreSQL the waiting read's snapshot predates the other writer's key row: the key is read afresh.

    Either way the waiting command raises ``KeyTaken`` at ``check``, before writing its event.
    """
    case_id = app.service.open_case("livin", RECEIVE, actor="crm")["id"]
    seen = Statements(app.engine)
    outcome: list[Any] = []

    def waiting() -> None:
        try:
            hook = guard(app, "k")
            outcome.append(app.service.apply(case_id, "add_issue", {"description": "w"}, actor="crm", hook=hook))
        except KeyTaken as taken:
            outcome.append(taken)

    holder = app.service.uow()
    with holder:
        before = holder.cases.get(case_id, for_update=True)  # a command with the key, as apply writes one
        data = {"description": "held"}
        after = apply(before, app.catalog.get(before.policy_id, before.policy_version), "add_issue", data, START, START)
        record = EventRecord(case_id, after.version, "add_issue", data, START, START, "crm", before.state, after.state)
        holder.cases.save(before, after, [record], START)
        guard(app, "k").record(holder.connection, {"id": case_id, "held": True})
        waiter = threading.Thread(target=waiting)
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive()  # blocked on the row (PostgreSQL) or the writer lock (SQLite)
        holder.commit()
    waiter.join(30)
    assert not waiter.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], KeyTaken)
    assert outcome[0].stored.body == {"id": case_id, "held": True}
    sent = seen.by_thread[waiter.ident]
    assert not [s for s in sent if s.startswith(("INSERT INTO events", "UPDATE cases"))]


def test_keys_are_scoped_to_the_caller_and_stored_answers_survive_a_new_engine(app: App, db_url: str) -> None:
    assert idempotency.scoped_key("crm", "k") != idempotency.scoped_key("mailroom", "k")
    key = idempotency.scoped_key("crm", "refusal")
    idempotency.store(app.engine, key, "f1", 409, {"error": "event_refused"}, app.clock.now())
    idempotency.store(app.engine, key, "f2", 409, {"error": "other"}, app.clock.now())  # the first answer stays
    again = bootstrap(Settings(db_url=db_url), migrate=False)
    try:
        stored = idempotency.find(again.engine, key)
    finally:
        again.engine.dispose()
    assert stored == idempotency.StoredResponse("f1", 409, {"error": "event_refused"})
    assert idempotency.find(app.engine, idempotency.scoped_key("crm", "never")) is None


def test_fingerprints_differ_with_any_part() -> None:
    assert idempotency.fingerprint("POST", "/cases", "{}") == idempotency.fingerprint("POST", "/cases", "{}")
    assert idempotency.fingerprint("POST", "/cases", "{}") != idempotency.fingerprint("POST", "/cases{}", "")


def test_finding_cases_filters_in_the_database_and_pages(app: App) -> None:
    clock: ManualClock = app.clock  # type: ignore[assignment]
    opened = []
    for policy in ("livin", "code_2024", "livin", "b3living@1"):
        opened.append(app.service.open_case(policy, RECEIVE, actor="crm"))
        clock.advance(timedelta(hours=1))
    app.service.apply(opened[1]["id"], "withdraw", {"summary": "done"}, actor="crm")
    clock.advance(timedelta(days=30))
    app.service.fire_due()  # every open acknowledgement is breached by now

    def ids(query: CaseQuery, limit: int = 50, offset: int = 0) -> list[str]:
        return [c["id"] for c in app.service.find_cases(query, limit, offset).items]

    every = [c["id"] for c in opened]
    assert ids(CaseQuery()) == every
    assert ids(CaseQuery(policy_id="livin")) == [every[0], every[2]]
    assert ids(CaseQuery(policy_id="b3living", policy_version=2)) == []
    assert ids(CaseQuery(policy_id="b3living", policy_version=1)) == [every[3]]
    assert ids(CaseQuery(state="closed")) == [every[1]]
    assert ids(CaseQuery(breached=False)) == [every[1]]
    assert ids(CaseQuery(breached=True)) == [every[0], every[2], every[3]]
    assert ids(CaseQuery(opened_from=START + timedelta(hours=1), opened_to=START + timedelta(hours=3))) == every[1:3]
    page = app.service.find_cases(CaseQuery(), limit=3, offset=2)
    assert page.total == 4 and [c["id"] for c in page.items] == every[2:]
    summary = page.items[-1]
    assert (summary["policy"], summary["policy_version"]) == ("b3living", 1) and summary["breaches"] >= 1
