"""The store's contract, written once and run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.bootstrap import App, Settings, bootstrap
from storage.tables import UTCDateTime, cases, deadlines, events
from workflow.audit.history import replay
from workflow.calendar import LONDON
from workflow.clock import ManualClock
from workflow.errors import CaseNotFound, EventRefused, VersionConflict

START = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
RECEIVE = {"channel": "email", "incident_date": "2027-02-20", "formal": True, "subject_staff": "zed"}
ACK = {
    "handler": "ben",
    "handler_role": "officer",
    "handler_department": "lettings",
    "complaint_definition": "Damp in bedroom",
    "outcomes_sought": "Treatment",
}


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(START))
    yield app
    app.engine.dispose()


def counts(app: App) -> tuple[int, int, int]:
    with app.engine.connect() as c:
        return tuple(
            c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (cases, events, deadlines)
        )


def test_open_case_writes_case_event_and_deadlines_together(app: App) -> None:
    view = app.service.open_case("code_2024", RECEIVE, actor="crm")
    assert view["state"] == "stage_1"
    assert [d["kind"] for d in view["deadlines"]] == ["stage_1_acknowledgement"]
    assert counts(app) == (1, 1, 1)
    (record,) = app.service.history(view["id"])
    assert (record.seq, record.name, record.actor, record.state_before, record.state_after) == (
        1,
        "receive",
        "crm",
        "new",
        "stage_1",
    )


def test_a_refused_event_writes_nothing(app: App) -> None:
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    before = counts(app)
    with pytest.raises(EventRefused) as refusal:
        app.service.apply(case_id, "acknowledge", {**ACK, "handler": "Zed ", "complaint_definition": " "})
    assert sorted(refusal.value.reasons) == ["definition_missing", "handler_is_subject"]
    assert counts(app) == before
    assert app.service.get_case(case_id)["version"] == 1


def test_invalid_data_is_refused_naming_the_field(app: App) -> None:
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    with pytest.raises(EventRefused) as refusal:
        app.service.apply(case_id, "acknowledge", {**ACK, "colour": "red", "handler_role": "boss"})
    assert refusal.value.reasons == ["invalid_data"]
    assert set(refusal.value.details) == {"data.colour", "data.handler_role"}


def test_unknown_case_is_a_typed_error(app: App) -> None:
    with pytest.raises(CaseNotFound):
        app.service.apply("no-such-case", "withdraw", {})


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(app: App) -> None:
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    app.service.apply(case_id, "acknowledge", ACK, expected_version=1)
    before = counts(app)
    with pytest.raises(VersionConflict):
        app.service.apply(case_id, "withdraw", {}, expected_version=1)
    assert counts(app) == before


def test_a_stale_snapshot_write_is_refused_by_the_version_column(app: App) -> None:
    """Two units of work read version 1; the second save must fail, never merge."""
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    stale = app.service.load(case_id)
    app.service.apply(case_id, "acknowledge", ACK)
    uow = app.service.uow()
    with uow, pytest.raises(VersionConflict):
        uow.cases.save(stale, stale, [], START)


def test_concurrent_writers_are_serialized_without_lost_updates(app: App) -> None:
    """Threads race events at one case with no expected version: each lands once, in a valid sequence."""
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    app.service.apply(case_id, "acknowledge", ACK)
    errors: list[BaseException] = []

    def post(i: int) -> None:
        try:
            app.service.apply(case_id, "add_issue", {"description": f"issue {i}"})
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = app.service.history(case_id)
    assert [r.seq for r in history] == list(range(1, 15))
    assert app.service.get_case(case_id)["version"] == 14


def test_racing_expected_versions_let_exactly_one_writer_win(app: App) -> None:
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def post(i: int) -> None:
        barrier.wait()
        try:
            app.service.apply(case_id, "add_issue" if i % 2 else "withdraw", {}, expected_version=1)
            outcomes.append("ok")
        except VersionConflict:
            outcomes.append("conflict")
        except EventRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert app.service.get_case(case_id)["version"] == 2


def test_fire_due_stamps_breaches_with_their_instant_and_fires_once(app: App) -> None:
    case_id = app.service.open_case("code_2024", RECEIVE)["id"]
    later = datetime(2027, 3, 12, 12, tzinfo=UTC)
    app.clock.set(later)  # type: ignore[attr-defined]
    fired = app.service.fire_due(later)
    assert [(f.kind, f.due) for f in fired] == [("stage_1_acknowledgement", "2027-03-08")]
    assert app.service.fire_due(later) == []
    history = app.service.history(case_id)
    assert history[-1].name == "deadline_passed"
    assert history[-1].occurred_at == datetime(2027, 3, 9, 0, 0, tzinfo=UTC)
    view = app.service.get_case(case_id)
    assert view["breaches"] == ["stage_1_acknowledgement"]
    # the Code: an unacknowledged complaint still gets a provisional response date, 10 WD after the ack's due
    assert [(d["kind"], d["due"]) for d in view["deadlines"]] == [("stage_1_response", "2027-03-22")]


def test_replaying_the_stored_history_gives_the_stored_case(app: App) -> None:
    case_id = app.service.open_case("livin", {**RECEIVE, "formal": True})["id"]
    app.clock.set(START + timedelta(days=1))  # type: ignore[attr-defined]
    app.service.apply(case_id, "acknowledge", ACK)
    app.clock.set(START + timedelta(days=30))  # type: ignore[attr-defined]
    app.service.fire_due()
    stored = app.service.load(case_id)
    policy = app.catalog.get(stored.policy_id, stored.policy_version)
    assert replay(case_id, policy, app.service.history(case_id)).to_dict() == stored.to_dict()
    with app.engine.connect() as c:
        rows = c.execute(sa.select(deadlines.c.number, deadlines.c.status).where(deadlines.c.case_id == case_id))
        assert dict(rows.all()) == {d.number: d.status for d in stored.deadlines}


def test_back_dated_receive_fires_its_overdue_deadlines_at_once(app: App) -> None:
    app.clock.set(datetime(2027, 4, 1, 9, tzinfo=UTC))  # type: ignore[attr-defined]
    view = app.service.open_case("code_2024", RECEIVE, occurred_at=START)
    # acknowledgement due 8 March passed; so did the provisional response date (22 March) it opened
    assert view["breaches"] == ["stage_1_acknowledgement", "stage_1_response"]
    assert [r.name for r in app.service.history(view["id"])] == ["receive", "deadline_passed", "deadline_passed"]


def test_instants_bind_as_utc_whatever_their_zone_and_a_naive_one_is_refused(app: App) -> None:
    """UTCDateTime remembers the bound form of each instant (a timers batch binds one midnight thousands of times)."""
    utc = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    london = utc.astimezone(LONDON)  # the same instant, another zone
    query = sa.select(sa.bindparam("at", type_=UTCDateTime()))
    with app.engine.connect() as connection:
        for value in (utc, london, utc, london):
            assert connection.execute(query, {"at": value}).scalar_one() == utc
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            connection.execute(query, {"at": utc.replace(tzinfo=None)})
