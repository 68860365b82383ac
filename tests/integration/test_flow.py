"""The process map from stored histories, on SQLite and PostgreSQL: counts, medians, breaches, the period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.bootstrap import Settings, bootstrap
from service.flow import BadPeriod, process_flow
from workflow.clock import ManualClock
from workflow.diagrams.dot import to_dot
from workflow.diagrams.mermaid import to_mermaid
from workflow.errors import UnknownPolicy
from workflow.vocabulary import LETTER_FIELDS

MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday with no bank holiday near
ACK = {"handler": "Ann", "handler_role": "manager", "complaint_definition": "leaking roof"}
LETTER = dict.fromkeys(LETTER_FIELDS, "done")


@pytest.fixture
def served(request: pytest.FixtureRequest):
    """The app on the test's database (``db_url`` or ``sqlite_url``) with a manual clock; disposed after."""
    url = request.getfixturevalue("sqlite_url" if "sqlite_url" in request.fixturenames else "db_url")
    clock = ManualClock(MONDAY)
    app = bootstrap(Settings(db_url=url), clock=clock)
    yield app, clock
    app.engine.dispose()


def _case(app, clock, opened: datetime, respond_after_days: int | None) -> str:
    clock.set(opened)
    case_id = app.service.open_case("code_2024", {"incident_date": "2026-10-30"}, opened)["id"]
    clock.set(opened + timedelta(hours=1))
    app.service.apply(case_id, "acknowledge", ACK, opened + timedelta(hours=1))
    if respond_after_days is not None:
        at = opened + timedelta(days=respond_after_days, hours=2)
        clock.set(at)
        app.service.apply(case_id, "respond", LETTER, at)
    return case_id


def test_counts_medians_and_breaches(db_url: str, served) -> None:
    app, clock = served
    _case(app, clock, MONDAY, 2)  # responded Wednesday: 2 working days in stage_1
    _case(app, clock, MONDAY + timedelta(days=2, hours=3), 2)  # Wednesday to Friday: 2
    _case(app, clock, MONDAY + timedelta(days=7), 7)  # Monday to Monday: 5
    late = _case(app, clock, MONDAY + timedelta(days=15), None)
    clock.set(MONDAY + timedelta(days=60))
    app.service.fire_due()  # the unanswered case breaches its response date
    flow = process_flow(app.service.uow, app.catalog, "code_2024")
    steps = {(s.source, s.target, s.trigger, s.kind): s for s in flow.steps}
    assert flow.cases == 4
    assert steps[("new", "stage_1", "receive", None)].count == 4
    assert steps[("stage_1", "stage_1", "acknowledge", None)].count == 4
    respond = steps[("stage_1", "stage_1_responded", "respond", None)]
    assert (respond.count, respond.median_working_days) == (3, 2.0)
    assert steps[("stage_1", "stage_1", "deadline_passed", "stage_1_response")].count == 1
    dot = to_dot(flow.diagram())
    assert "respond x3, median 2 WD" in dot
    assert "stage 1 response: 1 breach" in dot
    assert "penwidth=6.0" in dot  # the busiest arrow is the thickest
    assert "receive x4" in to_mermaid(flow.diagram())
    assert app.service.get_case(late)["breaches"] == ["stage_1_response"]


def test_the_period_is_the_day_the_case_was_received(db_url: str, served) -> None:
    app, clock = served
    _case(app, clock, MONDAY, 2)
    _case(app, clock, MONDAY + timedelta(days=7), 2)
    week_two = process_flow(app.service.uow, app.catalog, "code_2024@1", since=date(2026, 11, 9))
    assert week_two.cases == 1
    week_one = process_flow(app.service.uow, app.catalog, "code_2024", until=date(2026, 11, 2))
    assert week_one.cases == 1
    assert process_flow(app.service.uow, app.catalog, "livin").cases == 0
    assert "no deadline breached" in to_dot(process_flow(app.service.uow, app.catalog, "livin").diagram())


def test_bad_periods_and_policies_are_refused_with_a_code(sqlite_url: str, served) -> None:
    app, _clock = served
    with pytest.raises(BadPeriod):
        process_flow(app.service.uow, app.catalog, "code_2024", since=date(2026, 2, 1), until=date(2026, 1, 1))
    with pytest.raises(UnknownPolicy):
        process_flow(app.service.uow, app.catalog, "nope")
    with pytest.raises(UnknownPolicy):
        process_flow(app.service.uow, app.catalog, "code_2024@9")
