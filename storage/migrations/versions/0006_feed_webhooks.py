"""The back-office feed and webhooks: ``events.txid``, due-soon notifications, subscriptions and deliveries.

On PostgreSQL ``txid`` defaults to the writing transaction's id
(``pg_current_xact_id()``), so the feed can serve only rows of transactions
older than every one still in flight (storage/feed_queries.py). Rows written
before this revision get 0: they committed long ago and come first. SQLite
leaves the column NULL (its single writer commits in id order).

Revision ID: 0006
Revises: 0005 (0005_external_ref)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import notifications, webhook_attempts, webhook_deliveries, webhook_subscriptions

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

XACT_ID = "(pg_current_xact_id()::text::bigint)"
NEW_TABLES = (notifications, webhook_subscriptions, webhook_deliveries, webhook_attempts)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.add_column("events", sa.Column("txid", sa.BigInteger, server_default=sa.text("0")))
        op.alter_column("events", "txid", server_default=sa.text(XACT_ID))
    else:
        op.add_column("events", sa.Column("txid", sa.BigInteger))
    op.create_index("ix_events_feed", "events", ["txid", "id"], sqlite_where=sa.text("txid IS NOT NULL"))
    bind = op.get_bind()
    for table in NEW_TABLES:
        table.create(bind)
    if postgres:
        op.alter_column("notifications", "txid", server_default=sa.text(XACT_ID))


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(NEW_TABLES):
        table.drop(bind)
    op.drop_index("ix_events_feed", table_name="events")
    op.drop_column("events", "txid")
