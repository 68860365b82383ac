"""The console's fast figures against the plain computation, on a year of varied cases, both backends.

- the process map (grouped by local dates in the database, working days by prefix counts) against
  every stored history walked in Python with ``WorkingCalendar.working_days_between``;
- the store version and the console's cache of figures: a committed event makes every kept figure stale,
  a PostgreSQL event committed late with a lower id too.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.flow import process_flow
from service.store_cache import StoreCache
from storage.store_version import store_version
from storage.tables import events
from storage.unit_of_work import UnitOfWorkFactory
from tests.integration.test_reports import KINDS, generate
from workflow.calendar import local_date


@pytest.fixture
def year_of_cases(db_url: str) -> Iterator[tuple[Any, list[Any], dict[str, list[Any]]]]:
    generated = generate(db_url, 4 * len(KINDS))
    yield generated
    generated[0].engine.dispose()


def expected_flow(reports: Any, plans: list[Any], histories: dict[str, list[Any]], policy: str) -> dict[tuple, tuple]:
    """{(from, to, event, kind): (count, median working days)} walked from each case's history."""
    counts: Counter[tuple] = Counter()
    spent: dict[tuple, list[int]] = defaultdict(list)
    for plan in plans:
        if plan.policy != policy:
            continue
        calendar = reports.catalog.get(plan.policy).calendar
        entered = None
        for record in histories[plan.case_id]:
            kind = record.data.get("deadline") if record.name == "deadline_passed" else None
            key = (record.state_before, record.state_after, record.name, kind)
            counts[key] += 1
            if record.state_before == record.state_after:
                continue
            if entered is not None:
                days = calendar.working_days_between(local_date(entered), local_date(record.occurred_at))
                spent[key[:3]].append(days)
            entered = record.occurred_at
    return {
        key: (n, float(statistics.median(spent[key[:3]])) if spent.get(key[:3]) and key[0] != key[1] else None)
        for key, n in counts.items()
    }


def test_the_process_map_counts_as_walking_every_history(year_of_cases: Any) -> None:
    reports, plans, histories = year_of_cases
    uow = UnitOfWorkFactory(reports.engine)
    for policy in sorted({p.policy for p in plans}):
        flow = process_flow(uow, reports.catalog, policy)
        got = {(s.source, s.target, s.trigger, s.kind): (s.count, s.median_working_days) for s in flow.steps}
        assert got == expected_flow(reports, plans, histories, policy), policy
        assert flow.cases == sum(1 for p in plans if p.policy == policy)
        assert any(s.kind for s in flow.steps) or policy != "code_2024"  # breaches are in the map


def test_a_committed_event_makes_every_kept_figure_stale(year_of_cases: Any) -> None:
    reports, plans, _ = year_of_cases
    cache = StoreCache(reports.engine, size=2)
    computed: list[str] = []

    def figure(name: str) -> Any:
        def compute() -> Any:
            computed.append(name)
            return reports.kpi("2025-09")["received"]

        return cache.get(name, compute)

    first = figure("a")
    assert figure("a") == first and computed == ["a"]  # kept
    figure("b"), figure("c")
    assert figure("a") == first and computed == ["a", "b", "c", "a"]  # the oldest went when the third came
    app_uow = UnitOfWorkFactory(reports.engine)
    before = cache.version()
    with app_uow(write=False) as unit:
        assert store_version(unit.connection) == before
    _append_event(reports.engine, plans[0].case_id, 1000)
    assert cache.version() != before
    figure("a")
    assert computed[-1] == "a" and len(computed) == 5  # computed again after the write


def _event_row(case_id: str, seq: int) -> dict[str, Any]:
    now = datetime(2026, 6, 30, tzinfo=UTC)
    return {"case_id": case_id, "seq": seq, "name": "note", "data": {}, "occurred_at": now, "recorded_at": now,
            "actor": "test", "policy_id": "code_2024", "policy_version": 1, "state_before": "closed",
            "state_after": "closed", "prev_hash": "0" * 64, "hash": "0" * 64}  # fmt: skip


def _append_event(engine: sa.Engine, case_id: str, seq: int) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(events), _event_row(case_id, seq))


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite commits ids in order: one writer at a time
def test_a_lower_id_committed_late_on_postgresql_changes_the_version(year_of_cases: Any) -> None:
    reports, plans, _ = year_of_cases
    engine = reports.engine
    assert engine.dialect.name == "postgresql"
    case_id = plans[0].case_id
    with engine.connect() as slow:
        slow.begin()
        slow.execute(sa.insert(events), _event_row(case_id, 1000))  # takes its id first, commits last
        _append_event(engine, case_id, 1001)
        with engine.connect() as reader:
            seen = store_version(reader)
        slow.commit()
    with engine.connect() as reader:
        assert store_version(reader) != seen
        assert max(store_version(reader)) >= max(seen)
