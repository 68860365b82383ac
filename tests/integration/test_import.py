"""``complaints import`` on SQLite and PostgreSQL: the shipped example, idempotence, refusals, rejects, bad files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.bootstrap import Settings, bootstrap
from api.cli import main
from service.import_rows import BadImport, read_rows
from service.importer import Importer, case_id_for
from storage.queries import CaseQuery
from storage.tables import cases, deadlines, events
from workflow.clock import ManualClock
from workflow.vocabulary import STATES

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy-complaints.csv"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)  # after every event of the example


def _rows(app, text: str, fmt: str = "csv", policy: str | None = None):
    return list(read_rows(io.StringIO(text, newline=""), fmt, app.catalog, policy))


def _counts(app) -> tuple[int, int, int]:
    with app.engine.connect() as c:
        count = sa.select(sa.func.count())
        return tuple(c.execute(count.select_from(t)).scalar_one() for t in (cases, events, deadlines))


def _store(app) -> dict[str, tuple]:
    """Every case as the store holds it: snapshot, and each event's content (not its store-wide id)."""
    out = {}
    with app.engine.connect() as c:
        for row in c.execute(sa.select(cases.c.id, cases.c.snapshot, cases.c.state)):
            history = c.execute(
                sa.select(
                    events.c.seq, events.c.name, events.c.data, events.c.occurred_at, events.c.recorded_at,
                    events.c.actor, events.c.state_before, events.c.state_after,
                ).where(events.c.case_id == row.id).order_by(events.c.seq)
            ).all()
            out[row.id] = (row.snapshot, [tuple(h) for h in history])
    return out


def test_the_shipped_example_has_every_state_under_every_policy() -> None:
    rows = list(csv.DictReader(io.StringIO(EXAMPLE.read_text(encoding="utf-8"))))
    app_catalog = bootstrap(Settings(db_url="sqlite://"), migrate=True).catalog
    assert len({r["external_ref"] for r in rows}) >= 50
    assert {r["policy"] for r in rows} == {p.ref for p in app_catalog.all()}
    assert {r["event"] for r in rows} >= {"receive", "acknowledge", "respond", "request_escalation", "withdraw"}


def test_import_equals_the_service_event_by_event(db_url: str, tmp_path: Path) -> None:
    imported = bootstrap(Settings(db_url=db_url), clock=ManualClock(NOW))
    rows = list(read_rows(io.StringIO(EXAMPLE.read_text(encoding="utf-8"), newline=""), "csv", imported.catalog, None))
    result = Importer(imported.service, batch=7).run(rows)
    assert result.rejects == [] and result.imported == len({r.external_ref for r in rows}) >= 50
    assert set(result.states) >= {"closed", "stage_1", "stage_2", "ombudsman_referred"}

    clock = ManualClock(min(r.occurred_at for r in rows))
    by_hand = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/by-hand.db"), clock=clock)

    def timers_until(instant: datetime) -> None:  # the scheduler: each deadline fired at its breach instant
        while due := by_hand.service.open_deadlines(due_before=instant, limit=1):
            clock.set(due[0]["breach_at"])
            by_hand.service.fire_due(due[0]["breach_at"])

    for row in sorted(rows, key=lambda r: (r.occurred_at, r.line)):
        timers_until(row.occurred_at)
        clock.set(row.occurred_at)
        if row.event == "receive":
            ref = case_id_for(row.external_ref)
            by_hand.service.open_case(row.policy.ref, row.data, row.occurred_at, row.actor, ref)
        else:
            by_hand.service.apply(case_id_for(row.external_ref), row.event, row.data, row.occurred_at, row.actor)
    timers_until(NOW)
    assert _store(imported) == _store(by_hand)

    before = _counts(imported)
    again = Importer(imported.service).run(rows)
    assert again.imported == 0 and again.unchanged == result.imported and _counts(imported) == before
    page = imported.service.find_cases(CaseQuery(external_ref=rows[0].external_ref), 10, 0)
    assert [c["id"] for c in page.items] == [case_id_for(rows[0].external_ref)]
    assert page.items[0]["external_ref"] == rows[0].external_ref
    imported.engine.dispose()
    by_hand.engine.dispose()


HEADER = "external_ref,event,occurred_at,data.incident_date,data.handler,data.handler_role\n"


def test_a_refused_history_leaves_no_trace_and_rejects_name_line_and_reasons(db_url: str) -> None:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(NOW))
    text = (
        HEADER
        + "OK-1,receive,2026-11-02T10:00:00+00:00,2026-11-01,,\n"  # line 2
        + "BAD-1,receive,2026-11-02T10:00:00+00:00,2026-11-01,,\n"
        + "BAD-1,respond,2026-11-03T10:00:00+00:00,,,\n"  # line 4: refused (not acknowledged, letter empty)
        + "BAD-2,receive,2026-11-02T10:00:00+00:00,2026-11-01,,\n"
        + "BAD-2,fly_away,2026-11-03T10:00:00+00:00,,,\n"  # line 6: unknown event
        + "BAD-3,receive,yesterday,2026-11-01,,\n"  # line 7: not a date
        + ",receive,2026-11-02T10:00:00+00:00,2026-11-01,,\n"  # line 8: no reference
    )
    result = Importer(app.service).run(_rows(app, text, policy="code_2024"))
    assert result.imported == 1
    rejects = {(r.external_ref, r.line, r.event): r.reasons for r in result.rejects}
    assert rejects[("BAD-2", 6, "fly_away")] == ["unknown_event"]
    assert rejects[("BAD-3", 7, "receive")] == ["invalid_occurred_at"]
    assert rejects[("", 8, "receive")] == ["missing_reference"]
    assert rejects[("BAD-1", 4, "respond")] == ["letter_incomplete"]  # the policy's reason, as apply gives it
    with app.engine.connect() as c:
        refs = set(c.execute(sa.select(cases.c.external_ref).where(cases.c.external_ref.is_not(None))).scalars())
        assert refs == {"OK-1"}  # BAD-1's receive (which the policy accepted) is not there either
        assert c.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.case_id.in_([case_id_for("BAD-1"), case_id_for("BAD-2"), case_id_for("BAD-3")]))).scalar_one() == 0
    app.engine.dispose()


def test_dry_run_writes_nothing(sqlite_url: str) -> None:
    app = bootstrap(Settings(db_url=sqlite_url), clock=ManualClock(NOW))
    rows = list(read_rows(io.StringIO(EXAMPLE.read_text(encoding="utf-8"), newline=""), "csv", app.catalog, None))
    result = Importer(app.service).run(rows, dry_run=True)
    assert result.imported >= 50 and result.events > len(rows) and _counts(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("cases.txt", HEADER, "not a CSV"),
        ("cases.csv", "external_ref,event,occurred_at,colour\n", "line 1, column 'colour': unknown column"),
        ("cases.csv", HEADER + "A,receive,2026-11-02T10:00:00,2026-11-01,,\n", "line 2, column occurred_at"),
        ("cases.jsonl", '{"external_ref": "A"}\nnot json\n', "line 2: not a JSON object"),
    ],
)
def test_bad_files_exit_2_naming_line_and_column(
    name: str, text: str, message: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("COMPLAINTS_DB_URL", f"sqlite:///{tmp_path}/store.db")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert main(["import", str(path), "--policy", "code_2024"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid_import:") and message in err
    assert "Traceback" not in err


def test_unknown_policy_is_bad_input(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COMPLAINTS_DB_URL", f"sqlite:///{tmp_path}/store.db")
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "A,receive,2026-11-02T10:00:00+00:00,2026-11-01,,\n", encoding="utf-8")
    assert main(["import", str(path), "--policy", "nobody"]) == 2
    assert "--policy" in capsys.readouterr().err
    with pytest.raises(BadImport):
        app = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/store.db"))
        _rows(app, "external_ref,event,occurred_at,policy\nA,receive,2026-11-02T10:00:00+00:00,nobody\n")


def test_cli_report_lists_rejects(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COMPLAINTS_DB_URL", f"sqlite:///{tmp_path}/store.db")
    path = tmp_path / "cases.csv"
    good, bad = "A,receive,2026-11-02T10:00:00+00:00,2026-11-01,,\n", "B,wobble,2026-11-02T10:00:00Z,,,\n"
    path.write_text(HEADER + good + bad)
    report = tmp_path / "rejects.csv"
    assert main(["import", str(path), "--policy", "code_2024", "--report", str(report)]) == 1
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert rows == [{"external_ref": "B", "line": "3", "event": "wobble", "reasons": "unknown_event",
                     "detail": "column event: 'wobble' is not an event of the service"}]
    assert set(STATES)  # vocabulary importable
