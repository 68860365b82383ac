"""Indexes the work list reads (GET /work, complaints work): index ranges, never the wide rows.

The work list walks every open or breached obligation row (status, kind) and
joins its case by id for the state and policy; without these, each step reads
the deadline row and the case row with its snapshot. Measured by bench/work.py
on 100,000 cases (SQLite): count and first page 230 ms without, 70 ms with.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_deadlines_work": ("deadlines", ["status", "kind", "case_id", "number", "closed_seq", "due", "breach_at"]),
    "ix_cases_work": ("cases", ["id", "state", "policy_id", "policy_version"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
