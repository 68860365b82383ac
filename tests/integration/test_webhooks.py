"""Webhooks against a real receiver on loopback: signed, ordered per case, retried until the receiver
recovers, failing marked after the cap without holding others back, redelivered by id; bad input is 422
naming the field and writes nothing; a rolled-back command is never delivered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.bootstrap import App, Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from service.signing import HEADER, sign, verify
from service.webhooks import DeliverySettings, Webhooks, check_url
from storage.tables import webhook_subscriptions
from tests.integration.test_timers_support import POLICY, RECEIVE, write_policy
from tests.webhook_receiver import Receiver
from workflow.clock import ManualClock
from workflow.errors import ComplaintsError, EventRefused

T0 = datetime(2027, 2, 8, 10, tzinfo=UTC)
FAST = DeliverySettings(retry_base_seconds=0.01, retry_cap_seconds=0.05, max_attempts=3, timeout_seconds=2)


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


def drain(hooks: Webhooks, app: App, until: float = 20) -> None:
    """Run the worker's steps until nothing is left to do (the clock moved on past every retry)."""
    end = time.monotonic() + until
    while time.monotonic() < end:
        app.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        if hooks.fan_out() + hooks.deliver_once() == 0 and not any(s["pending"] for s in hooks.list()):
            hooks.close()
            return
    raise AssertionError("deliveries did not finish")


def test_every_event_is_delivered_signed_in_order_per_case(app: App, receiver: Receiver) -> None:
    hooks = Webhooks(app.engine, app.clock, FAST)
    sub = hooks.add(receiver.url)
    receiver.secret = sub["secret"]
    ids = [app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))["id"] for _ in range(5)]
    for case_id in ids:
        app.service.apply(case_id, "withdraw", {}, occurred_at=T0 - timedelta(hours=1))
    receiver.failing = 4  # the first four attempts get 500: retried until it recovers
    drain(hooks, app)
    got = receiver.delivered()
    assert all(a.signed for a in receiver.arrivals)
    assert sorted(a.entry["id"] for a in got) == sorted({a.entry["id"] for a in got})  # once each here
    assert len(got) == 10
    for case_id in ids:
        assert [a.entry["type"] for a in got if a.entry["subject"] == case_id] == [
            "uk.complaints.receive", "uk.complaints.withdraw"]  # fmt: skip
    assert len(receiver.arrivals) == 14
    retried = [d for d in hooks.deliveries(sub["id"], 100) if d["attempts"] > 1]
    assert retried and all(d["status"] == "delivered" for d in retried)
    log = hooks.delivery(retried[0]["id"])["attempt_log"]
    assert [t["status_code"] for t in log][-1] == 204 and 500 in [t["status_code"] for t in log]
    assert "secret" not in hooks.list()[0]


def test_a_dead_receiver_is_marked_failing_and_holds_back_no_one_else(app: App, receiver: Receiver) -> None:
    hooks = Webhooks(app.engine, app.clock, FAST)
    dead = hooks.add("http://127.0.0.1:9/nothing-listens-here", types=["receive"])
    live = hooks.add(receiver.url, types=["uk.complaints.receive"])
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))
    drain(hooks, app)
    assert len(receiver.delivered()) == 1
    status = {s["id"]: s["status"] for s in hooks.list()}
    assert status == {dead["id"]: "failing", live["id"]: "active"}
    [failed] = hooks.deliveries(dead["id"], 10)
    assert failed["status"] == "failed" and failed["attempts"] == FAST.max_attempts
    # the receiver comes back at that URL: redelivery by id sends it again
    with app.engine.begin() as connection:
        connection.execute(sa.update(webhook_subscriptions).values(url=receiver.url))
    hooks.redeliver(failed["id"])
    drain(hooks, app)
    assert len(receiver.delivered()) == 2
    assert {s["id"]: s["status"] for s in hooks.list()}[dead["id"]] == "active"


def test_a_stored_url_that_cannot_be_sent_fails_its_own_delivery_and_holds_back_no_one_else(
    app: App, receiver: Receiver
) -> None:
    """A URL stored before check_url refused such (a port out of range): its delivery fails as an attempt with
    an error; it does not stop the worker's round, so the other subscription's delivery still arrives."""
    hooks = Webhooks(app.engine, app.clock, FAST)
    broken = hooks.add("http://127.0.0.1:8080/x")
    hooks.add(receiver.url)
    with app.engine.begin() as connection:
        connection.execute(
            sa.update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == broken["id"])
            .values(url="http://127.0.0.1:99999/x")
        )
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))
    drain(hooks, app)
    assert len(receiver.delivered()) == 1
    [failed] = hooks.deliveries(broken["id"], 10)
    assert failed["status"] == "failed" and "bad URL" in failed["last_error"]
    assert {s["id"]: s["status"] for s in hooks.list()}[broken["id"]] == "failing"


def test_a_delivery_of_a_removed_subscription_is_not_sent_again(app: App, receiver: Receiver) -> None:
    """Its log stays readable, but redelivery is not_found: nothing would ever claim it (no subscription)."""
    hooks = Webhooks(app.engine, app.clock, FAST)
    sub = hooks.add(receiver.url)
    app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))
    drain(hooks, app)
    [sent] = hooks.deliveries(sub["id"], 10)
    assert hooks.redeliver(sent["id"])["status"] == "pending"
    drain(hooks, app)
    hooks.remove(sub["id"])
    assert hooks.delivery(sent["id"])["status"] == "delivered"
    with pytest.raises(ComplaintsError) as refused:
        hooks.redeliver(sent["id"])
    assert refused.value.code == "not_found" and "removed" in refused.value.detail
    assert hooks.delivery(sent["id"])["status"] == "delivered" and len(receiver.delivered()) == 2


def test_a_refused_command_is_never_delivered(app: App, receiver: Receiver) -> None:
    hooks = Webhooks(app.engine, app.clock, FAST)
    hooks.add(receiver.url)
    case_id = app.service.open_case(POLICY, RECEIVE, occurred_at=T0 - timedelta(hours=3))["id"]
    with pytest.raises(EventRefused):
        app.service.apply(case_id, "respond", {}, occurred_at=T0)  # refused: rolled back
    drain(hooks, app)
    assert [a.entry["type"] for a in receiver.delivered()] == ["uk.complaints.receive"]


def test_a_tampered_body_fails_the_signature_check() -> None:
    body = b'{"id":"event-1"}'
    now = int(time.time())
    header = sign("whsec_x", body, now)
    assert verify("whsec_x", body, header)
    assert not verify("whsec_x", body.replace(b"1", b"2"), header)
    assert not verify("whsec_other", body, header)
    assert not verify("whsec_x", body, header, now=now + 3600)  # a replay an hour later
    assert not verify("whsec_x", body, "garbage")
    assert not verify("whsec_x", body, f"t={now},v1=\u00e9")  # non-ASCII: False, not a TypeError


def test_bad_subscriptions_are_422_naming_the_field_and_write_nothing(app: App) -> None:
    token = create_token(app.engine, "boss", "admin", T0)
    client = TestClient(create_app(app))
    auth = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    for body, field in (
        ({"url": "ftp://example.org/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://example.org/x", "types": ["deadline_passed", "made_up"]}, "types"),
        ({"url": "http://example.org/x", "after": "zzz"}, "after"),
        ({"url": "http://127.0.0.1:99999/x"}, "url"),  # a port out of range
        ({"url": "http://example.org:abc/x"}, "url"),
        ({"url": "http://exa mple.org/x"}, "url"),
        ({"url": "http://example.org/a b"}, "url"),
        ({"url": "http://example.org:0/x"}, "url"),
        ({"url": "http://under_score!.org/x"}, "url"),
        ({"url": "http://example.org/x", "types": "deadline_passed"}, "types"),  # not a list
    ):
        answer = client.post("/webhooks", json=body, headers=auth)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_data" and field in answer.json()["details"]
    assert client.get("/webhooks", headers=auth).json() == []
    for url in ("http://[::1]:8080/x", "https://exämple.org/x", "http://localhost./x", "HTTPS://Example.ORG/x?a=b"):
        assert check_url(url) == url
    made = client.post("/webhooks", json={"url": "https://example.org/x", "types": ["deadline_due_soon"]}, headers=auth)
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    listed = client.get("/webhooks", headers=auth).json()
    assert [s["types"] for s in listed] == [["uk.complaints.deadline_due_soon"]] and "secret" not in listed[0]
    assert client.delete(f"/webhooks/{made.json()['id']}", headers=auth).status_code == 204
    assert client.delete(f"/webhooks/{made.json()['id']}", headers=auth).status_code == 404
    assert client.post("/webhooks/deliveries/999/redeliver", headers=auth).status_code == 404
    assert HEADER == "Complaints-Signature"


def test_a_delivery_id_no_column_holds_is_not_found_never_a_crash(app: App) -> None:
    hooks = Webhooks(app.engine, app.clock, FAST)
    for delivery_id in (0, -5, 2**63, 10**30):
        for call in (hooks.delivery, hooks.redeliver):
            with pytest.raises(ComplaintsError) as refused:
                call(delivery_id)
            assert refused.value.code == "not_found"
    client = TestClient(create_app(app))
    auth = {"Authorization": f"Bearer {create_token(app.engine, 'boss', 'admin', T0)}"}
    assert client.get(f"/webhooks/deliveries/{2**63}", headers=auth).status_code == 422
    assert client.post(f"/webhooks/deliveries/{10**30}/redeliver", headers=auth).status_code == 422
