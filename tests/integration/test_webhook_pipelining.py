"""Pipelined webhook requests (service/webhook_sender.py ``Link.post_many``), against raw loopback receivers
that pipeline, that close after one answer, and that never answer a second request on a connection; and a
round with more deliveries to one origin than sender threads, delivered once each, in order per case, by a
receiver of each kind."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.bootstrap import App, Settings, bootstrap
from service.webhook_sender import Link
from service.webhooks import DeliverySettings, Webhooks
from tests.integration.test_timers_support import POLICY, RECEIVE, write_policy
from workflow.clock import ManualClock

T0 = datetime(2027, 2, 8, 10, tzinfo=UTC)
OK = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
CLOSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class RawReceiver:
    """A loopback HTTP/1.1 receiver written on sockets, so a test chooses how it treats pipelined requests:
    ``pipelining`` answers each in order, ``close`` answers one with ``Connection: close`` and closes,
    ``one`` answers the first request of a connection and never another (the naive server)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.bodies: list[bytes] = []
        self.most_in_one_read = 0  # requests that arrived in one recv: more than one means pipelined
        self.connections = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer, answered = b"", 0
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                requests = []
                while (end := buffer.find(b"\r\n\r\n")) >= 0:
                    head = buffer[:end].decode("latin-1").lower().split("\r\n")
                    length = next(int(h.split(":", 1)[1]) for h in head if h.startswith("content-length:"))
                    if len(buffer) < end + 4 + length:
                        break
                    requests.append(buffer[end + 4 : end + 4 + length])
                    buffer = buffer[end + 4 + length :]
                with self.lock:
                    self.most_in_one_read = max(self.most_in_one_read, len(requests))
                for body in requests:
                    if self.mode == "one" and answered:
                        continue  # read and dropped: never answered
                    with self.lock:
                        self.bodies.append(body)
                    answered += 1
                    conn.sendall(CLOSE if self.mode == "close" else OK)
                    if self.mode == "close":
                        return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(params=["pipelining", "close"])  # "one" would break keep-alive itself, pipelined or not
def raw(request: pytest.FixtureRequest) -> Iterator[RawReceiver]:
    receiver = RawReceiver(request.param)
    yield receiver
    receiver.close()


def requests(n: int) -> list[tuple[str, dict[str, str], bytes]]:
    return [("/hook", {"Content-Type": "application/json"}, b'{"n": %d}' % i) for i in range(n)]


def test_pipelined_requests_go_in_one_write_and_the_answers_come_in_order() -> None:
    receiver = RawReceiver("pipelining")
    link = Link(urlsplit(receiver.url), timeout=2)
    try:
        assert link.post_many(requests(10)) == [204] * 10
        assert receiver.most_in_one_read > 1  # the receiver read more than one request at once: pipelined
        assert receiver.bodies == [b'{"n": %d}' % i for i in range(10)]
        assert link.post_many(requests(3)) == [204] * 3  # the same connection, kept alive
        assert receiver.connections == 1 and link.pipelining
    finally:
        link.close()
        receiver.close()


def test_a_receiver_that_closes_after_one_answer_gets_the_rest_one_at_a_time() -> None:
    receiver = RawReceiver("close")
    link = Link(urlsplit(receiver.url), timeout=2)
    try:
        assert link.post_many(requests(5)) == [204]  # one answer, then the close: the caller sends the rest
        assert not link.pipelining
        assert link.post_many(requests(5)) == []  # no more pipelines to it
        assert [link.post(*r) for r in requests(2)] == [204, 204]
    finally:
        link.close()
        receiver.close()


def test_a_receiver_that_never_answers_a_second_request_costs_one_timeout_then_no_pipelines() -> None:
    receiver = RawReceiver("one")
    link = Link(urlsplit(receiver.url), timeout=0.5)
    try:
        assert link.post_many(requests(4)) == [204]  # the second answer never came: the read timed out
        assert not link.pipelining
    finally:
        link.close()
        receiver.close()


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    made = bootstrap(
        Settings(db_url=sqlite_url, extra_policy_dir=str(write_policy(tmp_path / "p"))), clock=ManualClock(T0)
    )
    yield made
    made.engine.dispose()


def test_a_round_with_more_deliveries_than_senders_delivers_each_once_in_order_per_case(
    app: App, raw: RawReceiver
) -> None:
    """24 cases of 2 events on 2 sender threads: pieces of 12 pipelined (or, for a receiver that does not
    take them, sent again one at a time); every event arrives, none twice unless unanswered, in order per
    case."""
    settings = DeliverySettings(timeout_seconds=0.5, senders=2, retry_base_seconds=0.01, retry_cap_seconds=0.01)
    hooks = Webhooks(app.engine, app.clock, settings)
    hooks.add(raw.url)
    ids = []
    for _ in range(24):
        case = app.service.open_case(POLICY, RECEIVE)
        app.service.apply(case["id"], "add_issue", {"description": "x"})
        ids.append(case["id"])
    try:
        for _ in range(10):
            if hooks.work() == 0 and not any(s["pending"] for s in hooks.list()):
                break
        hooks.flush()
        assert not any(s["pending"] for s in hooks.list())
    finally:
        hooks.close()
    arrived = [json.loads(b) for b in raw.bodies]
    firsts = {}
    for entry in arrived:
        firsts.setdefault((entry["subject"], entry["id"]), len(firsts))
    for case_id in ids:  # in order per case: the receive's entry before the add_issue's
        kinds = [e["type"].rsplit(".", 1)[1] for e in arrived if e["subject"] == case_id]
        assert kinds[0] == "receive" and "add_issue" in kinds and kinds.index("add_issue") > 0
    assert len(firsts) == 48  # every event arrived
    if raw.mode == "pipelining":
        assert len(arrived) == 48 and raw.most_in_one_read > 1  # once each, pipelined
