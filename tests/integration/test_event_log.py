"""The event-log export read back by PM4Py: the same traces, events and activities as the store, the same map."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pm4py
import pytest
import sqlalchemy as sa

from api.bootstrap import Settings, bootstrap
from service.event_log import activity, export
from service.flow import process_flow
from service.import_rows import read_rows
from service.importer import Importer
from storage.event_log_queries import LogFilter
from storage.tables import events
from workflow.clock import ManualClock

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy-complaints.csv"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
# PM4Py suggests an optional faster reader; the plain one is what an analyst has.
pytestmark = pytest.mark.filterwarnings("ignore:Install the optional requirement:UserWarning")


@pytest.fixture
def store(db_url: str):
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(NOW))
    rows = list(read_rows(io.StringIO(EXAMPLE.read_text(encoding="utf-8"), newline=""), "csv", app.catalog, None))
    assert Importer(app.service).run(rows).rejects == []
    yield app
    app.engine.dispose()


def _write(app, fmt: str, path: Path, which: LogFilter | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        for chunk in export(app.service.uow, fmt, which or LogFilter()):
            out.write(chunk)
    return path


def _stored(app) -> tuple[int, int, set[str]]:
    with app.engine.connect() as c:
        rows = c.execute(sa.select(events.c.case_id, events.c.name, events.c.data)).all()
    return len({r.case_id for r in rows}), len(rows), {activity(r.name, r.data) for r in rows}


def test_xes_and_ocel_read_back_by_pm4py(store, tmp_path: Path) -> None:
    traces, count, activities = _stored(store)
    log = pm4py.read_xes(str(_write(store, "xes", tmp_path / "log.xes")))
    assert log["case:concept:name"].nunique() == traces
    assert len(log) == count
    assert set(log["concept:name"]) == activities
    assert set(log["lifecycle:transition"]) == {"complete"}
    assert {"case:policy", "case:outcome"} <= set(log.columns)
    assert any(a.startswith("breach ") for a in activities)

    ocel = pm4py.read_ocel2_json(str(_write(store, "ocel", tmp_path / "log.jsonocel")))
    assert len(ocel.events) == count
    assert set(ocel.events["ocel:activity"]) == activities
    kinds = Counter(ocel.objects["ocel:type"])
    assert kinds["case"] == traces and kinds["deadline"] > 0 and kinds["handler"] > 0
    linked = ocel.relations[ocel.relations["ocel:type"] == "case"]
    assert len(linked) == count  # every event is linked to its case


def test_the_pm4py_map_equals_diagram_flow(store, tmp_path: Path) -> None:
    """A DFG over the states each event leaves the case in has the edges and counts of ``diagram --flow``."""
    log = pm4py.read_xes(str(_write(store, "xes", tmp_path / "log.xes")))
    dfg, starts, _ends = pm4py.discover_dfg(
        log, activity_key="state_after", case_id_key="case:concept:name", timestamp_key="time:timestamp"
    )
    ours: Counter[tuple[str, str]] = Counter()
    first: Counter[str] = Counter()
    for policy in {p.id for p in store.catalog.all()}:
        for step in process_flow(store.service.uow, store.catalog, policy).steps:
            if step.source == "new":
                first[step.target] += step.count
            else:
                ours[(step.source, step.target)] += step.count
    assert dict(dfg) == dict(ours)
    assert dict(starts) == dict(first)


def test_csv_and_filters(store, tmp_path: Path) -> None:
    _traces, count, _ = _stored(store)
    rows = list(csv.DictReader(io.StringIO(_write(store, "csv", tmp_path / "log.csv").read_text())))
    assert len(rows) == count
    assert list(rows[0]) == ["case_id", "activity", "timestamp", "resource", "state_before", "state_after", "policy",
                             "seq"]
    only = LogFilter(policy_id="livin")
    livin = list(csv.DictReader(io.StringIO(_write(store, "csv", tmp_path / "livin.csv", only).read_text())))
    assert livin and {r["policy"] for r in livin} == {"livin@1"}
    late = LogFilter(since=datetime(2026, 6, 1, tzinfo=UTC), until=datetime(2026, 7, 1, tzinfo=UTC))
    june = list(csv.DictReader(io.StringIO(_write(store, "csv", tmp_path / "june.csv", late).read_text())))
    assert june and all(r["timestamp"].startswith("2026-06") for r in june)
