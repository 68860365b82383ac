"""Finding cases by what the ``cases`` snapshot columns say, one page at a time.

``GET /cases`` filters on state, policy, breached and opening instant; every
filter is a column of ``cases`` (indexed where it matters), so a page costs one
count and one bounded select, never a scan of the snapshots in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.tables import cases


@dataclass(frozen=True)
class CaseQuery:
    """Which cases: every field left None matches everything. ``opened_from`` inclusive, ``opened_to`` exclusive."""

    state: str | None = None
    policy_id: str | None = None
    policy_version: int | None = None
    breached: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    external_ref: str | None = None

    def conditions(self) -> list[Any]:
        where: list[Any] = []
        if self.state is not None:
            where.append(cases.c.state == self.state)
        if self.policy_id is not None:
            where.append(cases.c.policy_id == self.policy_id)
        if self.policy_version is not None:
            where.append(cases.c.policy_version == self.policy_version)
        if self.breached is not None:
            where.append(cases.c.breach_count > 0 if self.breached else cases.c.breach_count == 0)
        if self.opened_from is not None:
            where.append(cases.c.opened_at >= self.opened_from)
        if self.opened_to is not None:
            where.append(cases.c.opened_at < self.opened_to)
        if self.external_ref is not None:
            where.append(cases.c.external_ref == self.external_ref)
        return where


@dataclass(frozen=True)
class CasePage:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "policy": row.policy_id,
        "policy_version": row.policy_version,
        "state": row.state,
        "closure_reason": row.closure_reason,
        "version": row.version,
        "opened_at": row.opened_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "breaches": row.breach_count,
        "external_ref": row.external_ref,
    }


def find_cases(connection: sa.Connection, query: CaseQuery, limit: int, offset: int) -> CasePage:
    """One page of matching cases, oldest opening first (ties by id), and how many match in all."""
    where = query.conditions()
    total = connection.execute(sa.select(sa.func.count()).select_from(cases).where(*where)).scalar_one()
    columns = [
        cases.c.id,
        cases.c.policy_id,
        cases.c.policy_version,
        cases.c.state,
        cases.c.closure_reason,
        cases.c.version,
        cases.c.opened_at,
        cases.c.updated_at,
        cases.c.breach_count,
        cases.c.external_ref,
    ]
    rows = connection.execute(
        sa.select(*columns).where(*where).order_by(cases.c.opened_at, cases.c.id).limit(limit).offset(offset)
    ).all()
    return CasePage([summary(r) for r in rows], total, limit, offset)
