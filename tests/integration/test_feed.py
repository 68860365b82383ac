"""The feed: every applied event once, in order, from a cursor, on both backends; and under 8 concurrent
writers committing out of id order on PostgreSQL, a follower sees each event exactly once."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from service.feed import Feed
from storage.feed_queries import START, insert_notification, read_rows
from storage.tables import cases, events
from tests.integration.test_timers_support import POLICY, RECEIVE, write_policy
from workflow.clock import ManualClock
from workflow.errors import EventRefused

T0 = datetime(2027, 2, 8, 10, tzinfo=UTC)


_made: list = []


def _app(db_url: str, tmp_path: Path):
    app = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(write_policy(tmp_path / "p"))), clock=ManualClock(T0))
    _made.append(app)
    return app


@pytest.fixture(autouse=True)
def _dispose():
    yield
    while _made:
        _made.pop().engine.dispose()


def test_feed_pages_every_event_once_in_order_as_cloudevents(db_url: str, tmp_path: Path) -> None:
    app = _app(db_url, tmp_path)
    ids = [app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=2))["id"] for _ in range(7)]
    for case_id in ids[:3]:
        app.service.apply(case_id, "withdraw", {}, occurred_at=T0 - timedelta(hours=1))
    feed = Feed(app.engine)
    seen, cursor = [], None
    for _ in range(20):
        page = feed.page(cursor, 3)
        if not page.entries:
            break
        seen += page.entries
        cursor = page.next_cursor
    assert len(seen) == 10
    with app.engine.connect() as connection:
        stored = list(connection.execute(sa.select(events.c.id).order_by(events.c.id)).scalars())
    assert [e["id"] for e in seen] == [f"event-{i}" for i in stored]
    first = seen[0]
    assert first["specversion"] == "1.0" and first["type"] == "uk.complaints.receive"
    assert first["subject"] == ids[0] and first["time"] == "2027-02-08T08:00:00Z"
    assert first["data"]["state_before"] == "new" and first["data"]["policy_id"] == POLICY
    assert first["data"]["data"]["channel"] == "email"
    assert seen[-1]["type"] == "uk.complaints.withdraw"
    assert feed.page(cursor, 10).entries == [] and feed.page(cursor, 10).next_cursor == cursor
    with pytest.raises(EventRefused) as refused:
        feed.page("12; drop table", 10)
    assert "after" in refused.value.details


def test_feed_over_http_names_the_bad_field(db_url: str, tmp_path: Path) -> None:
    app = _app(db_url, tmp_path)
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0)
    token = create_token(app.engine, "crm", "automation", T0)
    client = TestClient(create_app(app))
    auth = {"Authorization": f"Bearer {token}"}
    page = client.get("/feed", headers=auth).json()
    assert [e["type"] for e in page["entries"]] == ["uk.complaints.receive"]
    again = client.get("/feed", params={"after": page["next_cursor"]}, headers=auth).json()
    assert again == {"entries": [], "next_cursor": page["next_cursor"]}
    bad = client.get("/feed", params={"after": "not-a-cursor"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_data" and "after" in bad.json()["details"]
    assert client.get("/feed", params={"limit": 0}, headers=auth).json()["details"].keys() == {"limit"}
    admin_only = create_token(app.engine, "x", "analyst", T0)
    assert client.get("/webhooks", headers={"Authorization": f"Bearer {admin_only}"}).status_code == 403


def test_a_cursor_past_the_end_of_the_feed_is_422_naming_it_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    """A well-formed cursor the feed never gave out (past its head) would be an empty page for ever while the
    events it skips arrive: refused, on the feed and on a new webhook (``feed tail``: docs/integrators.md); the
    head, and any cursor behind it, still reads."""
    app = _app(db_url, tmp_path)
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0)
    feed = Feed(app.engine)
    head = feed.page(None, 10).next_cursor
    assert feed.page(head, 10).entries == [] and feed.page("0.0.0", 10).next_cursor == head
    key = int(head.split(".")[0])
    client = TestClient(create_app(app))
    reader = {"Authorization": f"Bearer {create_token(app.engine, 'crm', 'automation', T0)}"}
    admin = {"Authorization": f"Bearer {create_token(app.engine, 'boss', 'admin', T0)}"}
    for ahead in (f"{key + 1000}.0.{key + 1000}", f"{key}.1.99", "9223372036854775807.0.1"):
        with pytest.raises(EventRefused) as refused:
            feed.page(ahead, 10)
        assert "after" in refused.value.details
        answer = client.get("/feed", params={"after": ahead}, headers=reader)
        assert answer.status_code == 422 and answer.json()["details"].keys() == {"after"}, answer.text
        made = client.post("/webhooks", json={"url": "http://127.0.0.1:9/x", "after": ahead}, headers=admin)
        assert made.status_code == 422 and made.json()["details"].keys() == {"after"}, made.text
    for overflow in ("9999999999999999999.0.1", "1.0.9223372036854775808"):  # no column holds them: not a 500
        answer = client.get("/feed", params={"after": overflow}, headers=reader)
        assert answer.status_code == 422 and answer.json()["details"].keys() == {"after"}, answer.text
    assert client.get("/webhooks", headers=admin).json() == []
    made = client.post("/webhooks", json={"url": "http://127.0.0.1:9/x", "after": head}, headers=admin)
    assert made.status_code == 201 and client.get("/webhooks", headers=admin).json()[0]["cursor"] == head


WRITERS, PER_WRITER = 8, 40


def test_a_follower_sees_every_event_exactly_once_while_writers_commit_out_of_id_order(
    db_url: str, tmp_path: Path
) -> None:
    app = _app(db_url, tmp_path)
    engine = app.engine
    with engine.begin() as connection:
        for w in range(WRITERS):
            connection.execute(sa.insert(cases), {
                "id": f"w{w}", "policy_id": POLICY, "policy_version": 1, "state": "stage_1", "version": 0,
                "opened_at": T0, "updated_at": T0, "snapshot": {}})  # fmt: skip
    committed: list[int] = []  # event ids in the order their transactions committed
    lock = threading.Lock()
    done = threading.Event()

    def writer(w: int) -> None:
        rng = random.Random(w)
        for seq in range(1, PER_WRITER + 1):
            with engine.connect() as connection, connection.begin():
                new_id = connection.execute(sa.insert(events).returning(events.c.id), {
                    "case_id": f"w{w}", "seq": seq, "name": "record_update", "data": {}, "occurred_at": T0,
                    "recorded_at": T0, "actor": "t", "policy_id": POLICY, "policy_version": 1,
                    "state_before": "stage_1", "state_after": "stage_1", "prev_hash": "0" * 64,
                    "hash": "0" * 64}).scalar_one()  # fmt: skip
                time.sleep(rng.uniform(0, 0.01))  # hold the id a while: others with later ids commit first
                lock.acquire()
            committed.append(new_id)
            lock.release()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    seen: list[int] = []
    position = START
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        finished = done.is_set()
        with engine.connect().execution_options(complaints_write=False) as connection, connection.begin():
            rows = read_rows(connection, position, 7)
        if rows:
            position = rows[-1][0]
            seen += [row.id for _, _, row in rows]
        elif finished:
            break
        if not any(t.is_alive() for t in threads):
            done.set()
    for t in threads:
        t.join(10)
    assert len(committed) == WRITERS * PER_WRITER
    if engine.dialect.name == "postgresql":
        assert committed != sorted(committed), "the writers never committed out of id order: the test proves nothing"
    assert len(seen) == len(set(seen)), "an event was served twice"
    assert sorted(seen) == sorted(committed), "an event was never served"


def test_the_database_written_envelope_says_what_the_stored_event_says(db_url: str, tmp_path: Path) -> None:
    """service/feed.py writes each entry as text from the driver's values: every field must be the stored
    row's, instants in RFC 3339 UTC with microseconds only when there are any, data as the JSON object it was."""
    app = _app(db_url, tmp_path)
    exact = T0 - timedelta(hours=2)
    fine = T0 - timedelta(hours=1, microseconds=-120)  # 09:00:00.000120
    case_id = app.service.open_case(POLICY, {**RECEIVE, "subject_staff": 'a "quoted" line\nand ü'}, occurred_at=exact)[
        "id"
    ]
    app.clock.advance(timedelta(microseconds=5))  # type: ignore[attr-defined]
    app.service.apply(case_id, "withdraw", {}, occurred_at=fine)
    page = Feed(app.engine).page(None, 10)
    assert page.next_cursor == page.entries[-1]["cursor"]
    with app.engine.connect() as connection:
        stored = list(connection.execute(sa.select(events).order_by(events.c.id)))
    for entry, row in zip(page.entries, stored, strict=True):
        assert entry["id"] == f"event-{row.id}" and entry["subject"] == row.case_id
        assert entry["type"] == f"uk.complaints.{row.name}"
        assert entry["specversion"] == "1.0" and entry["source"] == "urn:uk-complaints:store"
        assert entry["datacontenttype"] == "application/json" and entry["time"] == entry["data"]["occurred_at"]
        assert entry["data"] == {
            "case_id": row.case_id,
            "seq": row.seq,
            "policy_id": row.policy_id,
            "policy_version": row.policy_version,
            "event": row.name,
            "state_before": row.state_before,
            "state_after": row.state_after,
            "occurred_at": row.occurred_at.isoformat().replace("+00:00", "Z"),
            "recorded_at": row.recorded_at.isoformat().replace("+00:00", "Z"),
            "actor": row.actor,
            "data": row.data,
        }
    assert [e["time"] for e in page.entries] == ["2027-02-08T08:00:00Z", "2027-02-08T09:00:00.000120Z"]
    assert page.entries[1]["data"]["recorded_at"] == "2027-02-08T10:00:00.000005Z"
    assert page.entries[0]["data"]["data"]["subject_staff"] == 'a "quoted" line\nand ü'
    answer = TestClient(create_app(app)).get(
        "/feed", headers={"Authorization": f"Bearer {create_token(app.engine, 'crm', 'automation', T0)}"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == page.as_dict()


def test_pages_with_reminders_between_events_give_the_feed_order(db_url: str, tmp_path: Path) -> None:
    """A page with due-soon notifications in it merges them among the events (service/feed.py's slower path);
    paging in small pages gives exactly the order of one read of everything (storage/feed_queries.read_rows)."""
    app = _app(db_url, tmp_path)
    for n in range(5):
        case_id = app.service.open_case(POLICY, RECEIVE, occurred_at=T0)["id"]
        with app.engine.begin() as connection:
            insert_notification(connection, {
                "type": "deadline_due_soon", "case_id": case_id, "deadline_number": 1, "policy_id": POLICY,
                "policy_version": 1, "occurred_at": T0, "recorded_at": T0, "data": {"kind": "k", "n": n}})  # fmt: skip
        app.service.apply(case_id, "withdraw", {}, occurred_at=T0)
    with app.engine.connect() as connection, connection.begin():
        everything = [f"{'event' if kind == 'event' else 'notification'}-{row.id}"
                      for _, kind, row in read_rows(connection, START, 1000)]  # fmt: skip
    assert len(everything) == 15 and sum(e.startswith("notification") for e in everything) == 5
    feed = Feed(app.engine)
    seen, cursor = [], None
    for _ in range(20):
        page = feed.page(cursor, 4)
        if not page.bodies:
            break
        seen += page.entries
        assert page.next_cursor == page.entries[-1]["cursor"]
        cursor = page.next_cursor
    assert [e["id"] for e in seen] == everything
    reminder = next(e for e in seen if e["type"] == "uk.complaints.deadline_due_soon")
    assert reminder["data"]["kind"] == "k" and reminder["subject"] == reminder["data"]["case_id"]
