"""Webhooks: subscriptions (admin), fan-out from the feed, signed delivery at least once, retries, the log.

A subscription is a URL, the CloudEvents types it wants (none: every type) and a secret shown once.
What is delivered is the feed (service/feed.py): the feed's rows are written in the command's own
transaction, so an entry is delivered exactly when its command committed, never for one rolled back.
``fan_out`` and ``deliver_once`` are the steps the background worker of ``complaints serve`` runs
(scheduler/delivery.py); the SQL and the per-case ordering are in storage/outbox.py.

Retries: attempt n that fails waits ``min(cap, base * 2**(n-1))`` times a random factor in [0.5, 1]
(jitter, so many failing deliveries do not come back together); after ``max_attempts`` the delivery is
``failed`` (redeliver it by id) and the subscription is marked ``failing`` until one of its deliveries
succeeds. Other subscriptions and other cases are never held back by it.
"""

from __future__ import annotations

import http.client
import os
import random
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from service import webhook_fanout
from service.feed import ENTRY_NAMES, ENTRY_TYPES, TYPE_PREFIX, cursor_or_refuse, refuse_if_ahead
from service.logs import get_logger
from service.signing import HEADER, sign
from service.webhook_sender import Link
from service.webhook_urls import check_url
from storage import outbox
from storage.feed_queries import head
from storage.write_lock import write_transaction
from workflow.clock import Clock
from workflow.errors import ComplaintsError, EventRefused

# what one round sent: the outcomes, when they were all in, and the retry instant of each that failed (None: gave up)
Sent = tuple[list[outbox.Outcome], datetime, dict[int, datetime | None]]
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
PIPELINE = 32  # the most requests one connection has in flight (service/webhook_sender.py)


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are retried and sent (docs/integrators.md, "Webhooks")."""

    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 3600.0
    max_attempts: int = 12
    timeout_seconds: float = 5.0
    lease_seconds: float = 30.0
    batch: int = 500
    per_subscription: int = 200
    senders: int = 16

    @classmethod
    def from_env(cls) -> DeliverySettings:
        env = os.environ.get
        return cls(
            retry_base_seconds=float(env("COMPLAINTS_WEBHOOK_RETRY_BASE_SECONDS", "2")),
            retry_cap_seconds=float(env("COMPLAINTS_WEBHOOK_RETRY_CAP_SECONDS", "3600")),
            max_attempts=int(env("COMPLAINTS_WEBHOOK_MAX_ATTEMPTS", "12")),
            timeout_seconds=float(env("COMPLAINTS_WEBHOOK_TIMEOUT_SECONDS", "5")),
            lease_seconds=float(env("COMPLAINTS_WEBHOOK_LEASE_SECONDS", "30")),
        )

    def retry_delay(self, attempt: int) -> float:
        return min(self.retry_cap_seconds, self.retry_base_seconds * 2 ** (attempt - 1)) * random.uniform(0.5, 1)


def normalise_types(types: list[str] | None) -> list[str]:
    """Full CloudEvents types (a bare event name is accepted); an unknown one is 422 naming ``types``."""
    out: list[str] = []
    for name in types or []:
        full = name if name.startswith(TYPE_PREFIX) else TYPE_PREFIX + name
        if full not in ENTRY_TYPES:
            raise EventRefused(
                ["invalid_data"], {"types": f"unknown event type {name!r}; types are: {', '.join(ENTRY_NAMES)}"}
            )
        if full not in out:
            out.append(full)
    return out


def _known_id(delivery_id: int) -> None:
    """An id no database column holds (below 1, past 64 bits) is simply not a delivery: not_found, not a crash."""
    if not 1 <= delivery_id < 2**63:
        raise ComplaintsError(f"no webhook delivery {delivery_id}", code="not_found")


class Webhooks:
    def __init__(self, engine: Engine, clock: Clock, settings: DeliverySettings | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings or DeliverySettings()
        self.log = get_logger("complaints.webhooks")
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._opened: list[Link] = []  # closed by close()
        self._opened_lock = threading.Lock()
        self._unrecorded: list[Sent] = []  # sent by ``work`` and not yet recorded: the next round records them

    # -- admin -------------------------------------------------------------------------------------

    def add(self, url: str, types: list[str] | None = None, after: str | None = None) -> dict[str, Any]:
        """A new subscription; the answer is the only place its secret is shown. Starts after ``after``
        (a feed cursor) or, by default, after everything already in the feed."""
        check_url(url)
        wanted = normalise_types(types)
        start = cursor_or_refuse(after) if after is not None else None
        secret = "whsec_" + secrets.token_urlsafe(32)
        row = {"id": "wh_" + uuid.uuid4().hex[:20], "url": url, "types": wanted, "secret": secret,
               "created_at": self.clock.now()}  # fmt: skip
        with write_transaction(self.engine) as connection:
            if start is not None:
                refuse_if_ahead(connection, start, after)
            row["cursor"] = (start or head(connection)).text()
            outbox.add_subscription(connection, row)
        return {**row, "status": outbox.ACTIVE}

    def list(self) -> list[dict[str, Any]]:
        with self.engine.connect().execution_options(complaints_write=False) as connection:
            return outbox.list_subscriptions(connection)

    def remove(self, subscription_id: str) -> None:
        with write_transaction(self.engine) as connection:
            if not outbox.remove_subscription(connection, subscription_id):
                raise ComplaintsError(f"no webhook subscription {subscription_id!r}", code="not_found")

    def deliveries(self, subscription_id: str, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000:
            raise EventRefused(["invalid_data"], {"limit": f"must be between 1 and 1000, got {limit}"})
        with self.engine.connect().execution_options(complaints_write=False) as connection:
            if not any(s["id"] == subscription_id for s in outbox.list_subscriptions(connection)):
                raise ComplaintsError(f"no webhook subscription {subscription_id!r}", code="not_found")
            return outbox.deliveries(connection, subscription_id, limit, status)

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        _known_id(delivery_id)
        with self.engine.connect().execution_options(complaints_write=False) as connection:
            found = outbox.delivery(connection, delivery_id)
        if found is None:
            raise ComplaintsError(f"no webhook delivery {delivery_id}", code="not_found")
        return found

    def redeliver(self, delivery_id: int) -> dict[str, Any]:
        _known_id(delivery_id)
        with write_transaction(self.engine) as connection:
            if not outbox.redeliver(connection, delivery_id, self.clock.now()):
                raise ComplaintsError(
                    f"no webhook delivery {delivery_id} to send again (none, being sent now, or its subscription "
                    "was removed)",
                    code="not_found",
                )
        return self.delivery(delivery_id)

    # -- the worker's steps --------------------------------------------------------------------------

    def fan_out(self, page: int = 1000) -> int:
        """Copy new feed entries into each subscription's deliveries; how many were queued.

        The feed is read and the rows built in a read transaction (service/webhook_fanout.py); when every
        subscription is at the feed's head (the usual case between commands) no write transaction is begun,
        so the SQLite writer lock stays free for commands."""
        planned = self._plan(page)
        if not planned.subscriptions:
            return 0
        with write_transaction(self.engine) as connection:
            return webhook_fanout.queue(connection, planned)

    def deliver_once(self) -> int:
        """Claim what is due, send it (concurrently), record what each got; how many were attempted."""
        now = self.clock.now()
        with self.engine.connect().execution_options(complaints_write=False) as connection, connection.begin():
            if not outbox.anything_due(connection, now):  # idle: no write lock taken
                return 0
        with write_transaction(self.engine) as connection:
            claimed = self._claim(connection, now)
        if not claimed:
            return 0
        sent = self._send_all(claimed)
        with write_transaction(self.engine) as connection:
            outbox.record(connection, *sent)
        return len(sent[0])

    def work(self, page: int = 1000) -> int:
        """One round of the worker ``complaints serve`` runs, with ONE write transaction: record what the
        previous round's sends got, queue the new feed entries (read and built before it), claim what is
        due; then send. What this round sent is recorded by the next round's transaction (or ``flush``), so
        a round holds the SQLite writer lock once, not three times, and commands wait on it less. A process
        that dies before then leaves its rows ``sending`` until the lease ends: sent again, at least once,
        as after a kill mid-send. Ordered per case still: a case's next delivery is claimed only in a
        transaction that has recorded the one before. How much it did: 0 means idle."""
        planned = self._plan(page)
        unrecorded, self._unrecorded = self._unrecorded, []
        if not planned.subscriptions and not planned.due and not unrecorded:
            return 0
        try:
            with write_transaction(self.engine) as connection:
                for sent in unrecorded:
                    outbox.record(connection, *sent)
                queued = webhook_fanout.queue(connection, planned)
                claimed = self._claim(connection, self.clock.now())
        except BaseException:
            self._unrecorded = unrecorded + self._unrecorded  # recorded by a later round (or sent again)
            raise
        if claimed:
            self._unrecorded.append(self._send_all(claimed))
        return sum(len(s[0]) for s in unrecorded) + queued + len(claimed)

    def flush(self) -> None:
        """Record what was sent and not yet recorded (the worker's last step before it stops)."""
        unrecorded, self._unrecorded = self._unrecorded, []
        if unrecorded:
            with write_transaction(self.engine) as connection:
                for sent in unrecorded:
                    outbox.record(connection, *sent)

    def _plan(self, page: int) -> webhook_fanout.FanOut:
        with self.engine.connect().execution_options(complaints_write=False) as connection, connection.begin():
            return webhook_fanout.plan(connection, page, self.clock.now())

    def _claim(self, connection: Any, now: datetime) -> list[outbox.Claimed]:
        return outbox.claim(connection, now, now + timedelta(seconds=self.settings.lease_seconds), self.settings.batch)

    def _send_all(self, claimed: list[outbox.Claimed]) -> Sent:
        """Send each claimed delivery (on the sender threads); what ``outbox.record`` takes of the outcomes."""
        s = self.settings
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=s.senders, thread_name_prefix="webhook-send")
        outcomes = [o for chunk in self._pool.map(self._send_chunk, self._chunks(claimed)) for o in chunk]
        done = self.clock.now()
        retry_at: dict[int, datetime | None] = {}
        for o in outcomes:
            if not o.ok:
                give_up = o.claimed.attempt >= s.max_attempts
                retry_at[o.claimed.id] = None if give_up else done + timedelta(seconds=s.retry_delay(o.claimed.attempt))
                self.log.warning("webhook_failed", delivery_id=o.claimed.id, subscription_id=o.claimed.subscription_id,
                                 attempt=o.claimed.attempt, status_code=o.status_code, error=o.error,
                                 gave_up=give_up)  # fmt: skip
        return outcomes, done, retry_at

    def close(self) -> None:
        try:
            self.flush()
        except Exception as err:  # the database gone: those rows are sent again when their lease ends
            self.log.error("webhook_flush_failed", error=f"{type(err).__name__}: {err}")
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()

    # -- sending -------------------------------------------------------------------------------------

    def _connection(self, url: str) -> tuple[Link, str]:
        """A kept-alive connection per sending thread and origin."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port)
        pool: dict[Any, Link] = getattr(self._local, "connections", None) or {}
        self._local.connections = pool
        conn = pool.get(key)
        if conn is None:
            conn = pool[key] = Link(parts, self.settings.timeout_seconds)
            with self._opened_lock:
                self._opened.append(conn)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return conn, path

    def _chunks(self, claimed: list[outbox.Claimed]) -> list[list[outbox.Claimed]]:
        """The round's deliveries in the pieces the sender threads take: one each while there are no more
        deliveries to an origin than threads (as many requests in flight as before), and when there are, each
        thread's share pipelined on its connection (service/webhook_sender.py), at most ``PIPELINE`` a piece."""
        by_origin: dict[tuple[str, str | None, int | None] | int, list[outbox.Claimed]] = {}
        for c in claimed:
            try:
                parts = urlsplit(c.url)
                key: tuple[str, str | None, int | None] | int = (parts.scheme, parts.hostname, parts.port)
            except ValueError:  # a bad stored URL: its own piece, where _send says why it failed
                key = c.id
            by_origin.setdefault(key, []).append(c)
        pieces: list[list[outbox.Claimed]] = []
        for group in by_origin.values():
            size = min(PIPELINE, -(-len(group) // self.settings.senders))
            pieces.extend(group[i : i + size] for i in range(0, len(group), size))
        return pieces

    def _send_chunk(self, chunk: list[outbox.Claimed]) -> list[outbox.Outcome]:
        """Send a piece: pipelined when it has more than one; what was not answered is sent one at a time."""
        if len(chunk) == 1:
            return [self._send(chunk[0])]
        try:
            conn, _ = self._connection(chunk[0].url)
            requests = [(self._connection(c.url)[1], *self._signed(c)) for c in chunk]
        except ValueError:  # a host name that cannot be sent: each fails on its own in _send
            return [self._send(c) for c in chunk]
        started = time.monotonic()
        codes = conn.post_many(requests)
        took = int((time.monotonic() - started) * 1000)
        answered = [
            outbox.Outcome(c, code, None if 200 <= code < 300 else f"HTTP {code}", took)
            for c, code in zip(chunk, codes, strict=False)
        ]
        return answered + [self._send(c) for c in chunk[len(codes) :]]

    @staticmethod
    def _signed(claimed: outbox.Claimed) -> tuple[dict[str, str], bytes]:
        body = claimed.body.encode()
        headers = {
            "Content-Type": "application/cloudevents+json",
            "Webhook-Id": claimed.entry_id,
            "Webhook-Attempt": str(claimed.attempt),
            HEADER: sign(claimed.secret, body, int(time.time())),
        }
        return headers, body

    def _send(self, claimed: outbox.Claimed) -> outbox.Outcome:
        headers, body = self._signed(claimed)
        started = time.monotonic()
        code: int | None = None
        error: str | None = None
        try:
            conn, path = self._connection(claimed.url)
        except ValueError as err:  # a URL stored before check_url refused such: this delivery fails, no other
            return outbox.Outcome(claimed, None, f"bad URL: {err}", 0)
        for retry in (False, True):  # a kept-alive connection the server closed: one fresh try
            try:
                code = conn.post(path, headers, body)
                error = None if 200 <= code < 300 else f"HTTP {code}"
                break
            except (OSError, http.client.HTTPException) as err:
                error = f"{type(err).__name__}: {err}"
                if retry or not isinstance(err, _STALE):
                    break
        return outbox.Outcome(claimed, code, error, int((time.monotonic() - started) * 1000))
