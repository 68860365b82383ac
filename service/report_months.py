"""The console's 12-month chart: received, responded within the Code's timescales, and breaches, per month.

Each month's figures are the KPI report's (``ReportService.kpi``: the sum of
``received``, of ``within_timescale`` and of ``breaches``), counted for all the
months at once: one grouped query per figure (``storage.report_months``), and
the Code check of responses the policy's own dates call on time (the
``_responses`` step of the KPI report) run once over the whole span, each
response counted in its month.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from storage.report_months import MonthQueries
from workflow.calendar import local_date
from workflow.catalog import Catalog
from workflow.lint import extension_within_code, response_within_code
from workflow.policy import Policy

CodeLimit = Callable[[Policy, int, Any], date]  # ReportService._code_limit: the last day the Code allows


def monthly(
    q: MonthQueries, spans: list[tuple[datetime, datetime]], catalog: Catalog, code: Policy, code_limit: CodeLimit
) -> list[tuple[int, int, int]]:
    """(received, responded within the Code's timescales, breaches) for each of ``spans`` (consecutive months)."""
    if not spans:
        return []
    bounds = [start for start, _ in spans] + [spans[-1][1]]
    received = q.received_by_month(bounds)
    responses = q.responses_by_month(bounds)
    breaches = q.breaches_by_month(bounds)
    within = {m: sum(n - late for n, late in by_stage.values()) for m, by_stage in responses.items()}
    for month, n in _late_by_code(q, bounds, responses, catalog, code, code_limit).items():
        within[month] -= n
    return [(received.get(i, 0), within[i], breaches.get(i, 0)) for i in range(len(spans))]


def _late_by_code(
    q: MonthQueries,
    bounds: list[datetime],
    responses: dict[int, dict[int, tuple[int, int]]],
    catalog: Catalog,
    code: Policy,
    code_limit: CodeLimit,
) -> dict[int, int]:
    """{month: responses on time by the policy's own dates that missed the Code's}, as ``_responses`` finds them."""
    out: dict[int, int] = {}
    for policy in catalog.all():
        if q.policy_id is not None and policy.id != q.policy_id:
            continue
        for stage in (1, 2):
            if policy.version != (q.version or policy.version):
                continue
            base_ok = response_within_code(policy, code, stage)
            issued = any(by_stage[stage][0] for by_stage in responses.values())
            if not issued or (base_ok and extension_within_code(policy, code, stage)):
                continue
            for row in q.on_time_responses(bounds[0], bounds[-1], policy.id, policy.version, stage, base_ok):
                if row.met_due is not None and local_date(row.occurred_at) > code_limit(policy, stage, row):
                    month = bisect_right(bounds, row.occurred_at) - 1
                    out[month] = out.get(month, 0) + 1
    return out
