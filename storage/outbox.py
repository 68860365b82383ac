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


def fan_out(connection: sa.Connection, subscription_id: str, rows: Sequence[dict[str, Any]], cursor: str) -> None:
    if rows:
        connection.execute(sa.insert(_d), [{**r, "subscription_id": subscription_id} for r in rows])
    connection.execute(sa.update(_s).where(_s.c.id == subscription_id).values(cursor=cursor))


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
_CLAIM = (
    sa.update(_d)
    .where(_d.c.id == sa.bindparam("b_id"))
    .values(status=SENDING, attempts=sa.bindparam("b_attempt"), next_attempt_at=sa.bindparam("b_lease"))
)


def claim(connection: sa.Connection, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Due deliveries, the first unfinished one of each case and subscription, leased to this process."""
    query = _CLAIMABLE.with_for_update(of=_d, skip_locked=True) if _postgres(connection) else _CLAIMABLE
    rows = list(connection.execute(query, {"c_now": now, "c_limit": limit}))
    if not rows:
        return []
    claimed = [Claimed(r.id, r.subscription_id, r.url, r.secret, r.entry_id, r.body, r.attempts + 1) for r in rows]
    connection.execute(_CLAIM, [{"b_id": c.id, "b_attempt": c.attempt, "b_lease": lease_until} for c in claimed])
    return claimed


_RESULT = (
    sa.update(_d)
    .where(_d.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        delivered_at=sa.bindparam("b_delivered"),
    )
)


def record(
    connection: sa.Connection, outcomes: Sequence[Outcome], now: datetime, retry_at: dict[int, datetime | None]
) -> None:
    """What each attempt got: delivered, to be retried at ``retry_at[id]``, or failed for good (None)."""
    if not outcomes:
        return
    updates, attempts = [], []
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
        updates.append(
            {"b_id": c.id, "b_status": status, "b_next": after, "b_code": o.status_code,
             "b_error": (o.error or None) and o.error[:300], "b_delivered": delivered}  # fmt: skip
        )
        attempts.append(
            {"delivery_id": c.id, "attempt": c.attempt, "at": now, "status_code": o.status_code,
             "error": (o.error or None) and o.error[:300], "duration_ms": o.duration_ms}  # fmt: skip
        )
    connection.execute(_RESULT, updates)
    connection.execute(sa.insert(webhook_attempts), attempts)
    if healthy - failing:
        connection.execute(
            sa.update(_s)
            .where(_s.c.id.in_(sorted(healthy - failing)), _s.c.status != ACTIVE)
            .values(status=ACTIVE, failing_since=None)
        )
    if failing:
        connection.execute(
            sa.update(_s).where(_s.c.id.in_(sorted(failing)), _s.c.status == ACTIVE).values(
                status=FAILING, failing_since=now
            )
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
        sa.select(webhook_attempts.c.attempt, webhook_attempts.c.at, webhook_attempts.c.status_code,
                  webhook_attempts.c.error, webhook_attempts.c.duration_ms)  # fmt: skip
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
