"""The database schema (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The event table is the source of truth and append-only; ``cases`` is a
snapshot for queries and optimistic concurrency (``version``); ``deadlines``
holds every clock a case ever had, indexed so the scheduler can find what is
due. Alembic migrations in ``storage/migrations`` create exactly this.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC instants on every backend (SQLite has no time zones): stored naive UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Any) -> Any:
        """``process_bind_param`` then the dialect's own processing (SQLite: the text form), remembered per instant.

        A timers batch binds the same few instants thousands of times (its stamp, one midnight's breach
        instant); the result depends only on the instant (equal aware datetimes hash alike whatever their
        zone), so it is computed once. What SQLAlchemy's TypeDecorator.bind_processor does, plus the memo.
        """
        inner = self.impl_instance.bind_processor(dialect)
        memo: dict[datetime, Any] = {}
        convert = self.process_bind_param

        def process(value: datetime | None) -> Any:
            if value is None:
                return None
            found = memo.get(value) if value.tzinfo is not None else None
            if found is not None:
                return found
            out = convert(value, dialect)
            if inner is not None:
                out = inner(out)
            if len(memo) >= 4096:
                memo.clear()
            memo[value] = out
            return out

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("closure_reason", sa.String(32)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("breach_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("snapshot", sa.JSON, nullable=False),
    sa.Column("external_ref", sa.String(128)),  # the legacy system's reference of an imported case (migration 0005)
    sa.Index("ix_cases_state", "state"),
    sa.Index("ix_cases_policy", "policy_id", "policy_version"),
    sa.Index("ix_cases_opened_at", "opened_at"),
    # the reports' indexes (migration 0003)
    sa.Index("ix_cases_state_updated", "state", "updated_at", "opened_at", "policy_id", "policy_version"),
    sa.Index("ix_cases_updated_opened", "updated_at", "opened_at"),
    sa.Index("ix_cases_work", "id", "state", "policy_id", "policy_version"),  # the work list (migration 0004)
    sa.Index("ix_cases_external_ref", "external_ref", unique=True),  # imports (migration 0005)
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("state_before", sa.String(32), nullable=False),
    sa.Column("state_after", sa.String(32), nullable=False),
    # tamper evidence: SHA-256 chain over the canonical content (workflow/audit/canonical.py; migration 0002)
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # the feed (storage/feed_queries.py; migration 0006): on PostgreSQL the writing transaction's id, filled by
    # the server's default pg_current_xact_id(); NULL on SQLite, whose single writer commits in id order
    sa.Column("txid", sa.BigInteger, server_default=sa.FetchedValue()),
    sa.UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
    sa.Index("ix_events_occurred_at", "occurred_at"),
    sa.Index("ix_events_name", "name"),
    # the reports' indexes (migration 0003): every report reads an index range, never event rows at random
    sa.Index(
        "ix_events_report",
        *("name", "state_before", "occurred_at", "state_after", "case_id", "seq", "policy_id", "policy_version"),
    ),
    sa.Index(
        "ix_events_case_history",
        *("case_id", "seq", "occurred_at", "state_before", "state_after", "name", "policy_id", "policy_version"),
    ),
    sa.Index("ix_events_feed", "txid", "id", sqlite_where=sa.text("txid IS NOT NULL")),  # migration 0006
)

deadlines = sa.Table(
    "deadlines",
    metadata,
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("stage", sa.Integer, nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("breach_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("opened_seq", sa.Integer, nullable=False),
    sa.Column("closed_seq", sa.Integer),
    sa.Index("ix_deadlines_status_breach", "status", "breach_at"),
    sa.Index("ix_deadlines_kind", "kind"),
    sa.Index("ix_deadlines_report", "status", "kind", "case_id", "breach_at"),  # migration 0003
    # the work list (migration 0004): open and breached obligations without reading a row
    sa.Index("ix_deadlines_work", "status", "kind", "case_id", "number", "closed_seq", "due", "breach_at"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)


# -- back-office integration (migration 0006): due-soon notifications, webhook subscriptions and deliveries --

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    # feed order: PostgreSQL, the writing transaction's id (server default); SQLite, the highest event id
    # when it was written (storage/feed_queries.py)
    sa.Column("txid", sa.BigInteger, server_default=sa.FetchedValue()),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("deadline_number", sa.Integer, nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.UniqueConstraint("type", "case_id", "deadline_number", name="uq_notifications_once"),
    sa.Index("ix_notifications_feed", "txid", "id"),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("types", sa.JSON, nullable=False),  # CloudEvents types; [] = every type
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | failing
    sa.Column("cursor", sa.String(80), nullable=False),  # the feed position fanned out so far
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("failing_since", UTCDateTime),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.String(40), nullable=False),
    sa.Column("entry_id", sa.String(80), nullable=False),  # the CloudEvent id
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the exact bytes sent (signed)
    sa.Column("status", sa.String(16), nullable=False),  # pending | sending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(300)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_deliveries_case", "subscription_id", "case_id", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.BigInteger, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String(300)),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_attempts_delivery", "delivery_id", "attempt"),
)
