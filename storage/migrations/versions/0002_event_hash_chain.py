"""Tamper evidence: ``events.prev_hash`` and ``events.hash``, and the chaining of existing histories.

Each event's ``hash`` is the SHA-256 of the canonical JSON of its content and
``prev_hash`` (workflow/audit/canonical.py); ``prev_hash`` is the case's previous
event's ``hash``. Histories written before this revision are chained here, in
``(case_id, seq)`` order, a page of cases at a time, so the columns can then
be made NOT NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime
from workflow.audit.canonical import GENESIS, HASHED_FIELDS, event_hash

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PAGE = 1000  # cases per read

# The table as this revision sees it (not storage.tables, which moves on with later revisions).
_events = sa.table(
    "events",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("name", sa.String),
    sa.column("data", sa.JSON),
    sa.column("occurred_at", UTCDateTime),
    sa.column("recorded_at", UTCDateTime),
    sa.column("actor", sa.String),
    sa.column("policy_id", sa.String),
    sa.column("policy_version", sa.Integer),
    sa.column("state_before", sa.String),
    sa.column("state_after", sa.String),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def _chain_existing(connection: sa.Connection) -> None:
    update = (
        sa.update(_events)
        .where(_events.c.id == sa.bindparam("b_id"))
        .values(prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    )
    after: str | None = None
    while True:
        query = sa.select(_events.c.case_id).distinct().order_by(_events.c.case_id).limit(PAGE)
        if after is not None:
            query = query.where(_events.c.case_id > after)
        ids = list(connection.execute(query).scalars())
        if not ids:
            return
        after = ids[-1]
        rows = connection.execute(
            sa.select(_events)
            .where(_events.c.case_id >= ids[0], _events.c.case_id <= ids[-1])
            .order_by(_events.c.case_id, _events.c.seq)
        ).all()
        changes = []
        case_id, prev = None, GENESIS
        for row in rows:
            if row.case_id != case_id:
                case_id, prev = row.case_id, GENESIS
            fields = {name: getattr(row, name) for name in HASHED_FIELDS if name != "prev_hash"}
            digest = event_hash(**fields, prev_hash=prev)
            changes.append({"b_id": row.id, "b_prev": prev, "b_hash": digest})
            prev = digest
        if changes:
            connection.execute(update, changes)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    _chain_existing(op.get_bind())
    with op.batch_alter_table("events") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
