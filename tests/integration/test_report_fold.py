"""The console's Reports figures kept across writes equal the figures computed afresh, on both backends.

After a write the console keeps a period's figures when every case written since began after the period
ended, and counts the 12-month chart again only from the first month a written case reaches
(api/console/routes_reports.py ``CachedReports``). After random runs of writes (cases opened and worked,
escalations, timers firing, an import of past events) every figure must be ``ReportService``'s own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import Settings, bootstrap
from api.console.routes_reports import CachedReports, _months_back
from service.reports import ReportService
from service.store_cache import StoreCache
from tests.integration.test_flow_fold import apply_writes, write
from workflow.clock import ManualClock

START = datetime(2026, 3, 2, 9, tzinfo=UTC)  # the example import's events come before and after it
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
CHARTS = [("2026-03", None), ("2026-05", "code_2024")]


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(START))
    yield app
    app.engine.dispose()


def _figures(reports: Any) -> list[Any]:
    out: list[Any] = [reports.tsm(2025, 1000), reports.tsm(2026, 1000)]
    out += [reports.kpi(m, p) for m in MONTHS for p in (None, "livin")]
    out += [list(reports.monthly(_months_back(m, 12), p)) for m, p in CHARTS]
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.lists(write, min_size=1, max_size=8), min_size=1, max_size=4))
def test_kept_report_figures_equal_the_figures_computed_afresh(store: Any, runs: list[list[Any]]) -> None:
    app = store
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(complaints=app, console_cache=StoreCache(app.engine)))
    )
    opened: list[str] = []
    _figures(CachedReports(request))
    for run in runs:
        apply_writes(app, run, opened)
        kept = _figures(CachedReports(request))  # one page's reader, as each view makes
        assert kept == _figures(ReportService(app.engine, app.catalog))


class Counting(ReportService):
    """``ReportService`` that notes each count it makes: ``None`` for every case, else the cases it was given."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: list[Any] = []

    def tsm_parts(self, year: int, only: Any = None, connection: Any = None) -> Any:
        self.asked.append(only)
        return super().tsm_parts(year, only, connection)

    def kpi_parts(self, month: str, policy: str | None, only: Any = None, connection: Any = None) -> Any:
        self.asked.append(only)
        return super().kpi_parts(month, policy, only, connection)

    def monthly(self, months: list[str], policy: str | None = None, only: Any = None, connection: Any = None) -> Any:
        self.asked.append(only)
        return super().monthly(months, policy, only, connection)


new_only = st.one_of(  # writes that only add cases: opened now, or imported with events before and after START
    st.tuples(st.just("open"), st.sampled_from(["code_2024", "livin", "brighter_places"]), st.booleans()),
    st.tuples(st.just("time"), st.integers(1, 40), st.just(False)),  # days on, no timer fired: nothing written
    st.tuples(st.just("import"), st.just(0), st.just(False)),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.lists(new_only, min_size=1, max_size=6), min_size=1, max_size=4))
def test_new_cases_are_counted_alone_and_added_to_the_kept_figures(store: Any, runs: list[list[Any]]) -> None:
    app = store
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(complaints=app, console_cache=StoreCache(app.engine)))
    )
    opened: list[str] = []
    _figures(CachedReports(request))
    for run in runs:
        apply_writes(app, run, opened)
        reports = CachedReports(request)
        reports.service = Counting(app.engine, app.catalog)
        kept = _figures(reports)
        assert None not in reports.service.asked  # nothing counted again over every case
        assert kept == _figures(ReportService(app.engine, app.catalog))
