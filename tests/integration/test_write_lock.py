"""SQLite's writer lock (storage/write_lock.py): a long write batch never makes HTTP reads wait.

A timers batch is one write transaction of up to 500 cases. Every SQLite writer of the process takes the
storage's writer lock first, so an HTTP writer that arrives during a batch waits for it on the thread pool,
not on the event loop, and reads go on being answered. Judged by the order things happen, not by a timer:
the read must be answered while the batch still holds the file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
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


HOLDER = """
import sys
from storage.database import make_engine
from storage.write_lock import writing

engine = make_engine(sys.argv[1])
with writing(engine):
    print("holding", flush=True)
    sys.stdin.readline()  # until the test says release
    print("releasing", flush=True)
"""


def test_another_process_holding_the_lock_makes_this_one_queue_not_poll(sqlite_url: str) -> None:
    """serve's delivery child, a second worker or a CLI command on the same file: the writer lock is held across
    processes (a flock on <file>-writer), so this process's writer waits for it and runs once it is let go."""
    import subprocess
    import sys

    app = bootstrap(Settings(db_url=sqlite_url))
    case = app.service.open_case("code_2024", {"incident_date": "2025-04-28", "channel": "web"})
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    with subprocess.Popen([sys.executable, "-c", HOLDER, sqlite_url], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, cwd=root, env=env) as holder:  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdin is not None
            assert holder.stdout.readline().strip() == "holding"
            assert try_acquire(app.engine) is False  # held by the other process: the HTTP loop would queue off it
            order: list[str] = []

            def write() -> None:
                app.service.apply(case["id"], "add_issue", {"description": "x"})
                order.append("written")

            writer = threading.Thread(target=write)
            writer.start()
            time.sleep(0.3)  # sequencing only: let the writer reach the lock
            assert order == []  # it waits for the other process
            holder.stdin.write("\n")
            holder.stdin.flush()
            order.append(holder.stdout.readline().strip())
            writer.join(BOUND)
            assert order == ["releasing", "written"]
            assert holder.wait(BOUND) == 0
            assert Path(sqlite_url.removeprefix("sqlite:///") + "-writer").exists()
        finally:
            holder.kill()
            app.engine.dispose()


def test_a_forked_child_does_not_inherit_the_parents_hold(sqlite_url: str) -> None:
    """A child forked while the parent holds the lock shares the parent's open lock file; it must not count
    that as its own hold (its lock starts afresh, and the parent's flock still keeps it out)."""
    engine = bootstrap(Settings(db_url=sqlite_url)).engine
    read, write = os.pipe()
    with writing(engine):
        pid = os.fork()
        if pid == 0:  # the child: report whether it could take the lock, then leave at once
            os.close(read)
            got = try_acquire(engine)
            os.write(write, b"taken" if got not in (None, False) else b"held")
            os._exit(0)
        os.close(write)
        answer = os.read(read, 16)
        os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"held"
    engine.dispose()
