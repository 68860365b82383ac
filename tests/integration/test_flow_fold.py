"""The process map brought up to date after writes equals the map counted afresh, on both backends.

``FlowTally.updated`` adds only the events committed after the tally's mark (service/flow.py); after
random runs of writes (cases opened, acknowledged, answered, escalated, closed, timers firing, an import)
its map must be exactly ``tally``'s, for every policy, for a period, and for one version. On PostgreSQL an
event that took its id first and committed last must be added too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import Settings, bootstrap
from service.flow import FlowTally, median, tally
from service.import_rows import read_rows
from service.importer import Importer
from storage.tables import events
from tests.integration.test_reports import LETTER, ack
from workflow.clock import ManualClock
from workflow.errors import ComplaintsError

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy-complaints.csv"
START = datetime(2026, 12, 1, 9, tzinfo=UTC)  # after every event of the example import
MAPS = (("code_2024", None, None), ("livin", None, None), ("brighter_places", None, None),
        ("code_2024", date(2026, 12, 1), date(2026, 12, 20)), ("livin@1", None, None))  # fmt: skip
STEPS = {
    "acknowledge": ack(),
    "respond": LETTER,
    "request_escalation": {"requested_by": "customer"},
    "close": {"summary": "satisfied"},
    "log_formal": {"requested_by": "customer"},
    "resolve_informally": {"summary": "fixed"},
}


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(START))
    yield app
    app.engine.dispose()


def _tallies(app: Any) -> list[FlowTally]:
    return [tally(app.engine, app.catalog, ref, since, until) for ref, since, until in MAPS]


def _assert_up_to_date(app: Any, kept: list[FlowTally]) -> list[FlowTally]:
    updated = [t.updated(app.engine, app.catalog) for t in kept]
    for now, (ref, since, until) in zip(updated, MAPS, strict=True):
        assert now.flow() == tally(app.engine, app.catalog, ref, since, until).flow(), ref
    return updated


write = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(["code_2024", "livin", "brighter_places"]), st.booleans()),
    st.tuples(st.just("step"), st.integers(0, 30), st.sampled_from(sorted(STEPS))),
    st.tuples(st.just("time"), st.integers(1, 40), st.booleans()),  # days on, then the timers fire (or not)
    st.tuples(st.just("import"), st.just(0), st.just(False)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.lists(write, min_size=1, max_size=8), min_size=1, max_size=4))
def test_an_updated_process_map_equals_the_map_counted_afresh(store: Any, runs: list[list[Any]]) -> None:
    app = store
    opened: list[str] = []
    kept = _tallies(app)
    for run in runs:
        apply_writes(app, run, opened)
        kept = _assert_up_to_date(app, kept)


def apply_writes(app: Any, run: list[Any], opened: list[str]) -> None:
    """One run of ``write``s (tests/integration/test_report_fold.py uses them too); refused steps write nothing."""
    for action, a, b in run:
        try:
            if action == "open":
                data = {"incident_date": "2026-11-20", "channel": "phone", "formal": b}
                opened.append(app.service.open_case(a, data)["id"])
            elif action == "step" and opened:
                app.service.apply(opened[a % len(opened)], b, STEPS[b])
            elif action == "time":
                app.clock.set(app.clock.now() + timedelta(days=a))
                if b:
                    app.service.fire_due()
            elif action == "import":
                text = EXAMPLE.read_text(encoding="utf-8")
                Importer(app.service).run(list(read_rows(io.StringIO(text, newline=""), "csv", app.catalog, None)))
        except ComplaintsError:
            pass


def _note(case_id: str, seq: int, at: datetime) -> dict[str, Any]:
    return {"case_id": case_id, "seq": seq, "name": "note", "data": {}, "occurred_at": at, "recorded_at": at,
            "actor": "test", "policy_id": "code_2024", "policy_version": 1, "state_before": "stage_1",
            "state_after": "stage_1", "prev_hash": "0" * 64, "hash": "0" * 64}  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite commits ids in order: one writer at a time
def test_an_event_committed_late_with_a_lower_id_is_added(store: Any) -> None:
    app = store
    case_id = app.service.open_case("code_2024", {"incident_date": "2026-11-20", "formal": True})["id"]
    kept = _tallies(app)
    with app.engine.connect() as slow:
        slow.begin()
        slow.execute(sa.insert(events), _note(case_id, 100, START))  # takes its id first, commits last
        with app.engine.begin() as fast:
            fast.execute(sa.insert(events), _note(case_id, 101, START))
        kept = _assert_up_to_date(app, kept)  # sees 101, not 100
        slow.commit()
    kept = _assert_up_to_date(app, kept)
    notes = [s.count for s in kept[0].flow().steps if s.trigger == "note"]
    assert notes == [2]


@given(st.dictionaries(st.integers(-5, 60), st.integers(0, 6), max_size=8))
def test_the_median_of_counted_values_is_statistics_median(counts: dict[int, int]) -> None:
    import statistics

    values = [v for v, n in counts.items() for _ in range(n)]
    assert median(counts) == (float(statistics.median(values)) if values else None)
