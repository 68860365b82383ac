"""Webhook subscriptions and the delivery outbox: fan-out from the feed, claims, results, the delivery log.

The feed itself is the transactional outbox: an event row (or a due-soon notification) is written in the
same transaction as the command that made it, so it exists exactly when that command committed. Each
subscription keeps a feed cursor; fan-out copies the entries after it that match the subscription's types
into ``webhook_deliveries`` and moves the cursor, in one transaction, with the subscription row locked
(``SKIP LOCKED`` on PostgreSQL, so one instance fans a subscription out at a time, in feed order).
Deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's writer lock elsewhere), never
while an earlier delivery of the same case and subscription is unfinished (ordered per case), and a claim
is a lease: a process killed mid-delivery leaves the row ``sending`` until the lease ends, then it is sent
again (at least once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.driver_rows import DriverStatement
from storage.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
ACTIVE, FAILING = "active", "failing"

_d = webhook_deliveries
_s = webhook_subscriptions


@dataclass(frozen=True)
class Claimed:
    id: int
    subscription_id: str
    url: str
    secret: str
    entry_id: str
    body: str
    attempt: int


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _postgres(connection: sa.Connection) -> bool:
    return connection.dialect.name == "postgresql"


# -- subscriptions -------------------------------------------------------------------------------------


def add_subscription(connection: sa.Connection, row: dict[str, Any]) -> None:
    connection.execute(sa.insert(_s), {**row, "status": ACTIVE})


def list_subscriptions(connection: sa.Connection) -> list[dict[str, Any]]:
    columns = (_s.c.id, _s.c.url, _s.c.types, _s.c.status, _s.c.cursor, _s.c.created_at, _s.c.failing_since)
    pending = (
        sa.select(sa.func.count())
        .where(_d.c.subscription_id == _s.c.id, _d.c.status.in_((PENDING, SENDING)))
        .scalar_subquery()
    )
    rows = connection.execute(sa.select(*columns, pending.label("pending")).order_by(_s.c.created_at, _s.c.id))
    return [dict(r._mapping) for r in rows]


def remove_subscription(connection: sa.Connection, subscription_id: str) -> bool:
    """Delete the subscription and what it had not yet delivered; the delivery log of the rest stays."""
    if connection.execute(sa.delete(_s).where(_s.c.id == subscription_id)).rowcount != 1:
        return False
    connection.execute(
        sa.delete(_d).where(_d.c.subscription_id == subscription_id, _d.c.status.in_((PENDING, SENDING)))
    )
    return True


def subscriptions_to_fan_out(connection: sa.Connection) -> list[Any]:
    """Every subscription, locked for this transaction (those another instance holds are skipped)."""
    query = sa.select(_s.c.id, _s.c.types, _s.c.cursor).order_by(_s.c.id)
    if _postgres(connection):
        query = query.with_for_update(skip_locked=True)
    return list(connection.execute(query))


def subscription_cursors(connection: sa.Connection) -> list[Any]:
    """Every subscription's id, types and feed cursor, read without locking anything (the fan-out's plan)."""
    return list(connection.execute(sa.select(_s.c.id, _s.c.types, _s.c.cursor).order_by(_s.c.id)))


_MOVE = sa.update(_s).where(_s.c.id == sa.bindparam("b_id")).values(cursor=sa.bindparam("b_cursor"))
_DELIVERY_KEYS = ("subscription_id", "entry_id", "type", "case_id", "status", "body", "attempts", "next_attempt_at",
                  "created_at")  # fmt: skip
_QUEUE = DriverStatement(sa.insert(_d).inline(), _DELIVERY_KEYS, column_keys=_DELIVERY_KEYS)


def delivery_row(subscription_id: str, entry_id: str, kind: str, case_id: str, body: str, now: datetime) -> tuple:
    """A new delivery as ``fan_out`` takes it (built before the write transaction: it holds the writer lock)."""
    return (subscription_id, entry_id, kind, case_id, PENDING, body, 0, now, now)


def fan_out(connection: sa.Connection, rows: Sequence[tuple], cursors: dict[str, str]) -> None:
    """Queue ``rows`` (``delivery_row``'s) and move each subscription to its new cursor: one batched INSERT
    (plain tuples to the driver: storage/driver_rows.py) and one batched UPDATE, whatever the number of
    subscriptions."""
    _QUEUE.execute(connection, rows)
    if cursors:
        connection.execute(_MOVE, [{"b_id": sid, "b_cursor": cursor} for sid, cursor in cursors.items()])


_ANY_DUE = (
    sa.select(_d.c.id)
    .where(_d.c.status.in_((PENDING, SENDING)), _d.c.next_attempt_at <= sa.bindparam("c_now"))
    .limit(1)
)


def anything_due(connection: sa.Connection, now: datetime) -> bool:
    """Whether any delivery is due now (an index lookup, no lock): an idle worker takes no write lock."""
    return connection.execute(_ANY_DUE, {"c_now": now}).first() is not None


# -- claims and results --------------------------------------------------------------------------------

_earlier = sa.alias(webhook_deliveries, "earlier")
_CLAIMABLE = (
    sa.select(_d.c.id, _d.c.subscription_id, _d.c.entry_id, _d.c.body, _d.c.attempts, _s.c.url, _s.c.secret)
    .join(_s, _s.c.id == _d.c.subscription_id)
    .where(
        _d.c.status.in_((PENDING, SENDING)),
        _d.c.next_attempt_at <= sa.bindparam("c_now"),
        ~sa.exists().where(
            _earlier.c.subscription_id == _d.c.subscription_id,
            _earlier.c.case_id == _d.c.case_id,
            _earlier.c.id < _d.c.id,
            _earlier.c.status.in_((PENDING, SENDING)),
        ),
    )
    .order_by(_d.c.id)
    .limit(sa.bindparam("c_limit"))
)
_CLAIM = (  # one statement for the whole batch: no per-row parameters
    sa.update(_d)
    .where(_d.c.id.in_(sa.bindparam("b_ids", expanding=True)))
    .values(status=SENDING, attempts=_d.c.attempts + 1, next_attempt_at=sa.bindparam("b_lease"))
)


def claim(connection: sa.Connection, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Due deliveries, the first unfinished one of each case and subscription, leased to this process."""
    query = _CLAIMABLE.with_for_update(of=_d, skip_locked=True) if _postgres(connection) else _CLAIMABLE
    rows = list(connection.execute(query, {"c_now": now, "c_limit": limit}))
    if not rows:
        return []
    claimed = [Claimed(r.id, r.subscription_id, r.url, r.secret, r.entry_id, r.body, r.attempts + 1) for r in rows]
    connection.execute(_CLAIM, {"b_ids": [c.id for c in claimed], "b_lease": lease_until})
    return claimed


_RESULT = (  # one statement per distinct result (usually one: every delivery answered 200, or 204)
    sa.update(_d)
    .where(_d.c.id.in_(sa.bindparam("b_ids", expanding=True)))
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        delivered_at=sa.bindparam("b_delivered"),
    )
)


_ATTEMPT_KEYS = ("delivery_id", "attempt", "at", "status_code", "error", "duration_ms")
_ATTEMPTS = DriverStatement(sa.insert(webhook_attempts).inline(), _ATTEMPT_KEYS, column_keys=_ATTEMPT_KEYS)


def record(
    connection: sa.Connection, outcomes: Sequence[Outcome], now: datetime, retry_at: dict[int, datetime | None]
) -> None:
    """What each attempt got: delivered, to be retried at ``retry_at[id]``, or failed for good (None)."""
    if not outcomes:
        return
    updates: dict[tuple[Any, ...], list[int]] = {}
    attempts: list[tuple[Any, ...]] = []
    healthy: set[str] = set()
    failing: set[str] = set()
    for o in outcomes:
        c = o.claimed
        if o.ok:
            status, after, delivered = DELIVERED, now, now
            healthy.add(c.subscription_id)
        else:
            after = retry_at.get(c.id)
            status, delivered = (PENDING, None) if after is not None else (FAILED, None)
            if after is None:
                after = now
                failing.add(c.subscription_id)
        result = (status, after, o.status_code, (o.error or None) and o.error[:300], delivered)
        updates.setdefault(result, []).append(c.id)
        attempts.append((c.id, c.attempt, now, o.status_code, (o.error or None) and o.error[:300], o.duration_ms))
    for (status, after, code, error, delivered), ids in updates.items():
        values = {"b_status": status, "b_next": after, "b_code": code, "b_error": error, "b_delivered": delivered}
        connection.execute(_RESULT, {"b_ids": ids, **values})
    _ATTEMPTS.execute(connection, attempts)
    if healthy - failing:
        connection.execute(
            sa.update(_s)
            .where(_s.c.id.in_(sorted(healthy - failing)), _s.c.status != ACTIVE)
            .values(status=ACTIVE, failing_since=None)
        )
    if failing:
        connection.execute(
            sa.update(_s)
            .where(_s.c.id.in_(sorted(failing)), _s.c.status == ACTIVE)
            .values(status=FAILING, failing_since=now)
        )


# -- the delivery log ----------------------------------------------------------------------------------

_DELIVERY_COLUMNS = (
    _d.c.id, _d.c.subscription_id, _d.c.entry_id, _d.c.type, _d.c.case_id, _d.c.status, _d.c.attempts,
    _d.c.next_attempt_at, _d.c.last_status_code, _d.c.last_error, _d.c.created_at, _d.c.delivered_at,
)  # fmt: skip


def deliveries(connection: sa.Connection, subscription_id: str, limit: int, status: str | None) -> list[dict]:
    query = sa.select(*_DELIVERY_COLUMNS).where(_d.c.subscription_id == subscription_id)
    if status is not None:
        query = query.where(_d.c.status == status)
    rows = connection.execute(query.order_by(_d.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def delivery(connection: sa.Connection, delivery_id: int) -> dict[str, Any] | None:
    row = connection.execute(sa.select(*_DELIVERY_COLUMNS).where(_d.c.id == delivery_id)).first()
    if row is None:
        return None
    tries = connection.execute(
        sa.select(
            webhook_attempts.c.attempt,
            webhook_attempts.c.at,
            webhook_attempts.c.status_code,
            webhook_attempts.c.error,
            webhook_attempts.c.duration_ms,
        )  # fmt: skip
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.id)
    )
    return {**row._mapping, "attempt_log": [dict(t._mapping) for t in tries]}


def redeliver(connection: sa.Connection, delivery_id: int, now: datetime) -> bool:
    """Send a delivery again now (whatever it got before), with a fresh round of retries; False when there is
    no such delivery, it is being sent, or its subscription was removed (a claim would never find it: it
    would sit ``pending`` for ever)."""
    result = connection.execute(
        sa.update(_d)
        .where(_d.c.id == delivery_id, _d.c.status != SENDING, sa.exists().where(_s.c.id == _d.c.subscription_id))
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    )
    return result.rowcount == 1
