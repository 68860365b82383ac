"""SQLite's writer lock (storage/write_lock.py): a long write batch never makes HTTP reads wait.

A timers batch is one write transaction of up to 500 cases. Every SQLite writer of the process takes the
storage's writer lock first, so an HTTP writer that arrives during a batch waits for it on the thread pool,
not on the event loop, and reads go on being answered. Judged by the order things happen, not by a timer:
the read must be answered while the batch still holds the file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import App, Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from storage.write_lock import try_acquire, writer_lock, writing
from workflow.clock import ManualClock

BOUND = 20.0  # seconds: every wait of this test is bounded


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[App, TestClient, dict[str, str], str]]:
    clock = ManualClock(datetime(2025, 5, 1, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=sqlite_url), clock=clock)
    case = app.service.open_case("code_2024", {"incident_date": "2025-04-28", "channel": "web"})
    clock.advance(timedelta(hours=1))
    headers = {"Authorization": f"Bearer {create_token(app.engine, 'crm', 'admin', clock.now())}"}
    with TestClient(create_app(app)) as client:
        yield app, client, headers, case["id"]
    app.engine.dispose()


def test_a_read_is_answered_while_a_batch_holds_the_file_and_the_writer_waits_off_the_loop(served: Any) -> None:
    app, client, headers, case_id = served
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def batch() -> None:  # what a timers batch does: one write transaction held for a while
        with app.service.uow() as uow:
            uow.cases.existing_ids([case_id])
            holding.set()
            release.wait(BOUND)
            order.append("batch released")

    answers: dict[str, Any] = {}

    def writer() -> None:
        answers["write"] = client.post(
            f"/cases/{case_id}/events", json={"name": "add_issue", "data": {"description": "x"}}, headers=headers
        )
        order.append("write answered")

    batcher = threading.Thread(target=batch)
    batcher.start()
    assert holding.wait(BOUND)
    posting = threading.Thread(target=writer)
    posting.start()
    time.sleep(0.5)  # sequencing only: let the write reach the server and queue behind the batch
    answers["read"] = client.get(f"/cases/{case_id}", headers=headers)
    order.append("read answered")
    release.set()
    batcher.join(BOUND)
    posting.join(BOUND)
    assert order == ["read answered", "batch released", "write answered"]
    assert answers["read"].status_code == 200 and answers["read"].json()["version"] == 1
    assert answers["write"].status_code == 200 and answers["write"].json()["version"] == 2


def test_the_lock_is_one_per_file_reentrant_and_absent_on_postgresql(sqlite_url: str, tmp_path: Any) -> None:
    first = bootstrap(Settings(db_url=sqlite_url)).engine
    second = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/./complaints.db")).engine
    assert writer_lock(first) is writer_lock(second)  # the service and a CLI command in one process share it
    with writing(first):
        with writing(second):  # re-entrant: a request holding it may open its unit of work inside
            pass
        taken: list[object] = []
        other = threading.Thread(target=lambda: taken.append(try_acquire(first)))
        other.start()
        other.join(BOUND)
        assert taken == [False]  # another thread finds it held and does not wait
    lock = try_acquire(first)
    assert lock not in (None, False)
    lock.release()  # type: ignore[union-attr]
    from storage.database import make_engine

    assert writer_lock(make_engine("postgresql+psycopg://u@127.0.0.1:1/none")) is None
