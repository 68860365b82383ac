"""The reference a case had in the system it was imported from (``complaints import``), unique and searchable.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("external_ref", sa.String(128), nullable=True))
    op.create_index("ix_cases_external_ref", "cases", ["external_ref"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_cases_external_ref", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("external_ref")
