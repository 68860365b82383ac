"""The worker's round (``Webhooks.work``: one write transaction that records the previous round's sends,
queues new entries and claims what is due) delivers every entry once and in order per case, retries as
the separate steps do, and a fan-out planned from a cursor another instance has since moved queues nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.bootstrap import App, Settings, bootstrap
from service import webhook_fanout
from service.webhooks import Webhooks
from storage.write_lock import write_transaction
from tests.integration.test_timers_support import POLICY, RECEIVE, write_policy
from tests.integration.test_webhooks import FAST, T0
from tests.webhook_receiver import Receiver
from workflow.clock import ManualClock


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    made = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(write_policy(tmp_path / "p"))), clock=ManualClock(T0))
    yield made
    made.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def rounds(hooks: Webhooks, app: App, until: float = 20) -> int:
    """Run ``work`` until it is idle and nothing is pending; how many rounds that took."""
    end = time.monotonic() + until
    n = 0
    while time.monotonic() < end:
        app.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        n += 1
        if hooks.work() == 0 and not any(s["pending"] for s in hooks.list()):
            return n
    raise AssertionError("deliveries did not finish")


def test_rounds_deliver_each_entry_once_in_order_per_case_and_record_every_attempt(
    app: App, receiver: Receiver
) -> None:
    hooks = Webhooks(app.engine, app.clock, FAST)
    subs = [hooks.add(receiver.url), hooks.add(receiver.url)]
    receiver.secret = subs[0]["secret"]
    ids = [app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))["id"] for _ in range(4)]
    for case_id in ids:
        app.service.apply(case_id, "withdraw", {}, occurred_at=T0 - timedelta(hours=1))
    receiver.failing = 3  # retried by later rounds
    rounds(hooks, app)
    hooks.close()
    got = receiver.delivered()
    assert len(got) == 16  # 8 entries, 2 subscriptions, each delivered once
    assert len({(a.headers["Webhook-Id"], a.headers["Complaints-Signature"]) for a in got}) == 16
    for sub in subs:
        log = hooks.deliveries(sub["id"], 100)
        assert len(log) == 8 and all(d["status"] == "delivered" for d in log)
        attempts = sum(len(hooks.delivery(d["id"])["attempt_log"]) for d in log)
        assert attempts == sum(d["attempts"] for d in log)  # every attempt recorded, the deferred ones too
    for case_id in ids:  # per case, each subscription got receive before withdraw
        for sub in subs:
            mine = [a for a in receiver.arrivals if a.entry["subject"] == case_id and a.status == 204
                    and a.signed == (sub is subs[0])]  # fmt: skip
            assert [a.entry["type"] for a in mine] == ["uk.complaints.receive", "uk.complaints.withdraw"]


def test_what_a_round_sent_is_recorded_by_the_next_round_or_by_close(app: App, receiver: Receiver) -> None:
    hooks = Webhooks(app.engine, app.clock, FAST)
    sub = hooks.add(receiver.url)
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))
    assert hooks.work() == 2  # queued one, claimed and sent it
    assert len(receiver.delivered()) == 1
    [row] = hooks.deliveries(sub["id"], 10)
    assert row["status"] == "sending"  # sent, recorded by the next round's transaction
    hooks.close()
    [row] = hooks.deliveries(sub["id"], 10)
    assert row["status"] == "delivered" and len(hooks.delivery(row["id"])["attempt_log"]) == 1
    assert hooks.work() == 0


def test_a_plan_from_a_cursor_another_instance_moved_queues_nothing(app: App, receiver: Receiver) -> None:
    ours, theirs = Webhooks(app.engine, app.clock, FAST), Webhooks(app.engine, app.clock, FAST)
    sub = ours.add(receiver.url)
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))
    with app.engine.connect() as connection, connection.begin():
        planned = webhook_fanout.plan(connection, 100, app.clock.now())
    assert planned.rows == 1
    assert theirs.fan_out() == 1  # the other instance queued it first
    with write_transaction(app.engine) as connection:
        assert webhook_fanout.queue(connection, planned) == 0
    assert len(ours.deliveries(sub["id"], 10)) == 1
