"""The KPI report's received / responses / breaches counts for many months in one query each, grouped by month.

The console's 12-month chart needs three figures a month. Asking
``ReportQueries`` once per month is twelve times the same index range scan in
pieces; here each figure is one scan over the whole span with the month as a
``CASE`` over the months' first instants (London midnights, bound as the
column's own type, so no date function runs per row), then a ``GROUP BY``.
The conditions are ``ReportQueries``' own (``_arrivals``, ``_responds``,
``_late``, the breach filter), so each month's figure is the KPI report's:
tests/integration/test_reports.py checks every month against ``kpi`` on both
backends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.report_queries import RESPONSE_KINDS, S1_STATES, S2_STATES, ReportQueries, stage_of_state
from storage.tables import cases, deadlines, events
from workflow.vocabulary import WINDOWS


def month_index(column: Any, bounds: Sequence[datetime]) -> Any:
    """0 for an instant in [bounds[0], bounds[1]), 1 for the next month, ...; rows outside are filtered out first."""
    whens = [(column < bound, i) for i, bound in enumerate(bounds[1:-1])]
    return sa.case(*whens, else_=len(bounds) - 2) if whens else sa.literal(0)


class MonthQueries(ReportQueries):
    """``ReportQueries``' counts per month of ``bounds`` (each month's first instant, then the end of the last)."""

    def _grouped(self, parts: list[Any]) -> list[Any]:
        # grouped over a subquery: PostgreSQL does not match a GROUP BY expression holding bound parameters
        union = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
        keys = [union.c.month, union.c.stage]
        return self._rows(sa.select(*keys, sa.func.count().label("n")).group_by(*keys))

    def received_by_month(self, bounds: Sequence[datetime]) -> dict[int, int]:
        """{month: complaints that came in (stage 0, 1 and 2)}: ``received`` per month, summed over stages."""
        parts = []
        for stage, e, where in self._arrivals(bounds[0], bounds[-1]):
            columns = [month_index(e.c.occurred_at, bounds).label("month"), sa.literal(stage).label("stage")]
            parts.append(sa.select(*columns).where(*where))
        out: dict[int, int] = defaultdict(int)
        for month, _, n in self._grouped(parts):
            out[month] += n
        return out

    def responses_by_month(self, bounds: Sequence[datetime]) -> dict[int, dict[int, tuple[int, int]]]:
        """{month: {stage: (responses issued, late by the policy's own dates)}}: ``responses`` of each month."""
        e = events.alias("e")
        columns = [month_index(e.c.occurred_at, bounds).label("month"), stage_of_state(e.c.state_before).label("stage")]
        where = self._responds(e, bounds[0], bounds[-1])
        issued = self._grouped([sa.select(*columns).where(*where)])
        if self.only is not None:  # a few cases: a lookup per response (``_late`` itself)
            late_rows = self._grouped([sa.select(*columns).where(*where, self._late(e))])
            return self._by_month(bounds, issued, late_rows)
        # late: from the (few) response dates that passed, each joined to its case's responses in the span
        # (``_late``'s condition, no lookup per response); DISTINCT as ``_late`` is an EXISTS
        d = deadlines.alias("d")
        passed = (
            sa.select(d.c.case_id, d.c.kind)
            .where(d.c.status == "passed", d.c.kind.in_(RESPONSE_KINDS))
            .distinct()
            .subquery("passed")
        )
        of_stage = sa.or_(
            sa.and_(passed.c.kind == RESPONSE_KINDS[0], e.c.state_before.in_(S1_STATES)),
            sa.and_(passed.c.kind == RESPONSE_KINDS[1], e.c.state_before.in_(S2_STATES)),
        )
        joined = passed.join(e, sa.and_(e.c.case_id == passed.c.case_id, of_stage))
        late_rows = self._grouped([sa.select(*columns).select_from(joined).where(*where)])
        return self._by_month(bounds, issued, late_rows)

    @staticmethod
    def _by_month(
        bounds: Sequence[datetime], issued: list[Any], late_rows: list[Any]
    ) -> dict[int, dict[int, tuple[int, int]]]:
        late = {(m, s): n for m, s, n in late_rows}
        out: dict[int, dict[int, tuple[int, int]]] = {m: {1: (0, 0), 2: (0, 0)} for m in range(len(bounds) - 1)}
        for month, stage, n in issued:
            out[month][stage] = (n, late.get((month, stage), 0))
        return out

    def breaches_by_month(self, bounds: Sequence[datetime]) -> dict[int, int]:
        """{month: obligations that passed unmet}: ``breaches`` per month, summed over kinds."""
        month = month_index(deadlines.c.breach_at, bounds).label("month")
        query = sa.select(month, sa.literal(0).label("stage")).where(
            deadlines.c.status == "passed",
            deadlines.c.kind.not_in(sorted(WINDOWS)),
            deadlines.c.breach_at >= bounds[0],
            deadlines.c.breach_at < bounds[-1],
            *self._only(deadlines.c.case_id),
        )
        if self.policy_id is not None:
            query = query.join_from(deadlines, cases, cases.c.id == deadlines.c.case_id).where(*self._policy(cases))
        return {m: n for m, _, n in self._grouped([query])}
