"""The audit's reads (storage/audit_reads.py) on SQLite and PostgreSQL: what it decodes itself is what the types give.

verify fetches the JSON and instant columns raw from the driver and decodes them
by hand, for speed. These tests hold every value (and its type) equal to a plain
typed ``sa.select`` of the same table, so the shortcut can never change what verify
checks; and, on SQLite, that a JSON value edited into invalid text is reported, not
a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from api.bootstrap import App, Settings, bootstrap
from service.audit import AuditService, HistoryDoesNotReplay
from storage.audit_reads import CaseRow, StoredCase, load_cases, load_range
from storage.tables import cases, deadlines, events
from workflow.audit.canonical import instant_text
from workflow.clock import ManualClock

START = datetime(2026, 12, 18, 10, tzinfo=UTC)  # zero microseconds
RECEIVE = {"channel": "phone", "incident_date": "2026-12-10", "formal": True}
ACK = {"handler": "amy", "handler_role": "manager", "complaint_definition": "Boiler", "outcomes_sought": "Repair"}
ACK_NON_ASCII = {**ACK, "handler": "Zoë", "complaint_definition": "Chaudière cassée — 日本語 😀"}
LETTER = {
    "decision": "upheld",
    "reasons": "Two missed visits",
    "remedy": "Repair",
    "outstanding_actions": "none",
    "escalation_route": "stage 2",
    "ombudsman_info": "HOS",
}
IDS = ("alpha", "beta", "gamma", "omega")
TEXT_FIELDS = ("occurred_text", "recorded_text")


def _build(db_url: str) -> App:
    """Four cases with events, instants with and without microseconds, open and passed deadlines."""
    clock = ManualClock(START)
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    for case_id in IDS[:3]:
        app.service.open_case("b3living", RECEIVE, case_id=case_id, actor="crm")
    clock.advance(timedelta(days=4, hours=1, microseconds=123456))
    backdated = clock.now() - timedelta(hours=2, microseconds=1)  # occurred before it was recorded: .123455
    app.service.apply("alpha", "acknowledge", ACK_NON_ASCII, occurred_at=backdated, actor="crm")
    app.service.apply("beta", "acknowledge", ACK, actor="crm")
    clock.advance(timedelta(days=14, microseconds=876544))  # back to a whole second
    app.service.apply("alpha", "respond", LETTER, actor="crm")
    clock.advance(timedelta(days=40))
    app.service.fire_due()  # every deadline so far is met or passed
    app.service.open_case("b3living", RECEIVE, case_id="omega", actor="crm")  # and one open (no closed_seq)
    return app


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    """The store on each backend in turn."""
    app = _build(db_url)
    yield app
    app.engine.dispose()


@pytest.fixture
def sqlite_app(sqlite_url: str) -> Iterator[App]:
    """The store on SQLite, whose JSON and instants the driver hands over as text that can be edited by hand."""
    app = _build(sqlite_url)
    yield app
    app.engine.dispose()


def _typed(connection: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Each table as the column types read it: the values the audit's own decoding must reproduce."""
    return {
        "cases": [dict(r._mapping) for r in connection.execute(sa.select(cases).order_by(cases.c.id))],
        "events": [  # txid is the feed's commit-order key, not part of a case's history: the audit does not read it
            {k: v for k, v in r._mapping.items() if k != "txid"}
            for r in connection.execute(sa.select(events).order_by(events.c.case_id, events.c.seq))
        ],
        "deadlines": [
            dict(r._mapping)
            for r in connection.execute(sa.select(deadlines).order_by(deadlines.c.case_id, deadlines.c.number))
        ],
    }


def _read(loaded: list[StoredCase]) -> dict[str, list[dict[str, Any]]]:
    """What the audit read, as the same shape as ``_typed`` (the events' canonical texts set aside)."""
    return {
        "cases": [s.row._asdict() for s in loaded],
        "events": [{k: v for k, v in e._asdict().items() if k not in TEXT_FIELDS} for s in loaded for e in s.events],
        "deadlines": [d._asdict() for s in loaded for d in s.deadlines],
    }


def _assert_same(found: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Equal values of the same types: an aware UTC datetime is not a naive one, a date not its text."""
    assert found == expected
    for name, value in found.items():
        assert type(value) is type(expected[name]), f"{name}: {type(value)} vs {type(expected[name])}"
        if isinstance(value, datetime):
            assert value.tzinfo is UTC and expected[name].tzinfo is UTC, name


def _assert_matches_typed(loaded: list[StoredCase], typed: dict[str, list[dict[str, Any]]]) -> None:
    read = _read(loaded)
    expected_cases = [{name: row[name] for name in CaseRow._fields} for row in typed["cases"]]
    assert [r["id"] for r in read["cases"]] == [r["id"] for r in expected_cases]
    for found, expected in zip(read["cases"], expected_cases, strict=True):
        _assert_same(found, expected)
    for table in ("events", "deadlines"):
        assert len(read[table]) == len(typed[table]), table
        for found, expected in zip(read[table], typed[table], strict=True):
            _assert_same(found, expected)


def test_load_cases_gives_what_the_column_types_give(app: App) -> None:
    """verify checks what it reads: any difference from the typed values would be a false finding or a missed one."""
    with app.engine.connect() as connection:
        typed = _typed(connection)
        loaded = load_cases(connection, list(IDS))
    _assert_matches_typed(loaded, typed)
    # the fixture covers what it should: dicts, dates, and instants with and without microseconds
    assert all(type(r["snapshot"]) is dict for r in typed["cases"])
    assert all(type(r["data"]) is dict for r in typed["events"])
    assert all(type(r["due"]) is date for r in typed["deadlines"])
    for column in ("occurred_at", "recorded_at"):
        assert {r[column].microsecond == 0 for r in typed["events"]} == {True, False}, column
    assert {r["status"] for r in typed["deadlines"]} == {"open", "met", "passed"}
    assert any(r["closed_seq"] is None for r in typed["deadlines"])


def test_the_canonical_instant_texts_are_instant_text_of_the_instants(app: App) -> None:
    """The chain is hashed over these texts: each must be exactly what instant_text makes of the datetime."""
    with app.engine.connect() as connection:
        typed = {(r.case_id, r.seq): r for r in connection.execute(sa.select(events))}
        loaded = load_cases(connection, list(IDS))
    rows = [e for s in loaded for e in s.events]
    assert len(rows) == len(typed)
    for e in rows:
        expected = typed[(e.case_id, e.seq)]
        assert e.occurred_text == instant_text(expected.occurred_at) == instant_text(e.occurred_at)
        assert e.recorded_text == instant_text(expected.recorded_at) == instant_text(e.recorded_at)
    texts = {e.occurred_text for e in rows} | {e.recorded_text for e in rows}
    assert "2026-12-18T10:00:00.000000Z" in texts  # zero microseconds
    assert "2026-12-22T11:00:00.123456Z" in texts  # alpha's acknowledge, recorded
    assert "2026-12-22T09:00:00.123455Z" in texts  # and backdated


def test_load_range_gives_the_cases_between_its_bounds(app: App) -> None:
    """verify reads a page at a time by id range: each page holds its own cases, whole, and no others' rows."""
    with app.engine.connect() as connection:
        typed = _typed(connection)
        everything = load_range(connection, "alpha", "omega")
        first_three = load_range(connection, "alpha", "gamma")
        first_two = load_range(connection, "alpha", "beta")
        only_beta = load_range(connection, "b", "beta")
        by_id = load_cases(connection, ["beta", "alpha", "nope"])
    _assert_matches_typed(everything, typed)
    assert [s.id for s in first_two] == [s.id for s in by_id] == ["alpha", "beta"]
    assert [s.id for s in only_beta] == ["beta"]
    assert [s.id for s in first_three] == ["alpha", "beta", "gamma"]
    assert first_two == by_id
    assert first_two[1] == everything[1] == only_beta[0]
    assert all(e.case_id == s.id for s in first_two for e in s.events)
    assert all(d.case_id == s.id for s in first_two for d in s.deadlines)


# -- SQLite only: text the driver hands over as it is -----------------------------------------------------------


def _update(app: App, sql: str) -> None:
    """Raw SQL, as someone editing the file would: values no SQLAlchemy type would write."""
    with app.engine.begin() as connection:
        connection.exec_driver_sql(sql)


def test_event_data_that_no_longer_parses_is_kept_as_its_text(sqlite_app: App) -> None:
    """An edited byte can leave invalid JSON: verify must report that row, not stop at it."""
    _update(sqlite_app, "UPDATE events SET data = '{not json' WHERE case_id = 'alpha' AND seq = 2")
    with sqlite_app.engine.connect() as connection:
        [alpha] = load_cases(connection, ["alpha"])
    assert [e.seq for e in alpha.events] == [1, 2, 3, 4]
    assert alpha.events[1].data == "{not json"
    assert alpha.events[0].data == RECEIVE and type(alpha.events[2].data) is dict
    report = AuditService(sqlite_app.engine, sqlite_app.catalog).verify()
    assert (report.cases, report.events) == (4, 11)
    assert {(p.case_id, p.seq, p.code) for p in report.problems} == {
        ("alpha", 2, "hash_mismatch"),
        ("alpha", 2, "replay_refused"),
    }
    audit = AuditService(sqlite_app.engine, sqlite_app.catalog)
    for show in (audit.replay, audit.timeline):
        with pytest.raises(HistoryDoesNotReplay, match="event 2's data is not a JSON object"):
            show("alpha")


def test_a_snapshot_that_no_longer_parses_is_kept_as_its_text(sqlite_app: App) -> None:
    """The same for the case's snapshot: reported as differing from the replay, not a crash."""
    _update(sqlite_app, "UPDATE cases SET snapshot = '{\"state\": broken' WHERE id = 'beta'")
    with sqlite_app.engine.connect() as connection:
        [beta] = load_cases(connection, ["beta"])
    assert beta.row.snapshot == '{"state": broken'
    report = AuditService(sqlite_app.engine, sqlite_app.catalog).verify()
    codes = {(p.case_id, p.code) for p in report.problems}
    assert ("beta", "snapshot_differs") in codes
    assert codes <= {("beta", "snapshot_differs"), ("beta", "deadline_differs")}


def test_an_instant_stored_without_its_fraction_reads_as_the_same_instant(sqlite_app: App) -> None:
    """Another writer may store whole seconds without ``.000000``: the slice shortcut must not apply there."""
    _update(sqlite_app, "UPDATE events SET occurred_at = '2026-12-18 10:00:00' WHERE case_id = 'gamma' AND seq = 1")
    with sqlite_app.engine.connect() as connection:
        typed = _typed(connection)
        loaded = load_cases(connection, list(IDS))
    _assert_matches_typed(loaded, typed)
    first = loaded[2].events[0]
    assert first.occurred_at == START and first.occurred_text == "2026-12-18T10:00:00.000000Z"
    assert AuditService(sqlite_app.engine, sqlite_app.catalog).verify().ok


def test_an_instant_that_no_longer_parses_is_reported(sqlite_app: App) -> None:
    """An edited timestamp reads as None with its text kept: the chain and the replay report it, nothing raises."""
    bad = "2026-13-45 99:00:00.000000"
    _update(sqlite_app, f"UPDATE events SET occurred_at = '{bad}' WHERE case_id = 'beta' AND seq = 2")
    with sqlite_app.engine.connect() as connection:
        [beta] = load_cases(connection, ["beta"])
    assert beta.events[1].occurred_at is None and beta.events[1].occurred_text == bad
    audit = AuditService(sqlite_app.engine, sqlite_app.catalog)
    report = audit.verify()
    assert {(p.case_id, p.seq, p.code) for p in report.problems} == {
        ("beta", 2, "hash_mismatch"),
        ("beta", 2, "row_unreadable"),
    }
    assert f"occurred_at '{bad}' is not an instant" in {p.detail for p in report.problems}
    with pytest.raises(HistoryDoesNotReplay, match="event 2's time is not an instant"):
        audit.timeline("beta")
    from service.audit.checkpoint import Checkpoint

    assert {p.code for p in audit.verify(checkpoint=Checkpoint()).problems} == {"hash_mismatch", "row_unreadable"}


def test_a_deadline_date_that_no_longer_parses_is_reported(sqlite_app: App) -> None:
    """A deadline row's edited date differs from the replay: reported as such, and the checkpoint digest copes."""
    _update(sqlite_app, "UPDATE deadlines SET due = 'soon', breach_at = 'later' WHERE case_id = 'omega' AND number = 1")
    with sqlite_app.engine.connect() as connection:
        [omega] = load_cases(connection, ["omega"])
    assert (omega.deadlines[0].due, omega.deadlines[0].breach_at) == (None, None)
    from service.audit.checkpoint import Checkpoint

    for checkpoint in (None, Checkpoint()):
        report = AuditService(sqlite_app.engine, sqlite_app.catalog).verify(checkpoint=checkpoint)
        assert [(p.case_id, p.code) for p in report.problems] == [("omega", "deadline_differs")]
        assert "due None (replay '20" in report.problems[0].detail
