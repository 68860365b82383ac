"""Replay equals the store for every scenario case and random histories; as-of vs known-at; what-if by hand."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from api.bootstrap import App, Settings, bootstrap
from service.audit import AuditService
from service.complaints import ComplaintService
from service.scenarios import run_scenario, scenario_files
from storage.database import make_engine, upgrade
from storage.unit_of_work import UnitOfWorkFactory
from tests.unit.test_machine_properties import EVENT_MIX, POLICIES, START, _event_data
from workflow.calendar import local_date
from workflow.catalog import shipped
from workflow.clock import ManualClock
from workflow.errors import ComplaintsError

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "scenarios"
SCENARIO_DIRS = [str(SHARED), str(ROOT / "tests" / "scenarios")]


def _scenario_apps(tmp_path: Path) -> tuple[list[App], Callable[[str, datetime], Any]]:
    apps: list[App] = []
    counter = iter(range(10_000))

    def make(_name: str, start: datetime) -> tuple[Any, Callable[[datetime], None]]:
        clock = ManualClock(start)
        app = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/s{next(counter)}.db"), clock=clock)
        apps.append(app)
        return app.service, clock.set

    return apps, make


def test_replay_equals_the_store_for_every_scenario_case(tmp_path: Path) -> None:
    apps, make = _scenario_apps(tmp_path)
    files = scenario_files(d for d in SCENARIO_DIRS if Path(d).is_dir())
    assert len(files) >= 6
    for path in files:
        outcome = run_scenario(path, make)
        assert outcome.passed, outcome.line()
    assert len(apps) == len(files)
    for app in apps:
        report = AuditService(app.engine, app.catalog).verify(jobs=1)
        assert report.ok and report.cases == 1, [p.line() for p in report.problems]
        app.engine.dispose()


def test_what_if_b3living_christmas_under_code_2024(tmp_path: Path) -> None:
    apps, make = _scenario_apps(tmp_path)
    assert run_scenario(SHARED / "b3living_christmas.toml", make).passed
    (app,) = apps
    view = AuditService(app.engine, app.catalog).what_if("scenario", "code_2024")
    same = AuditService(app.engine, app.catalog).what_if("scenario", "b3living@2")
    app.engine.dispose()
    assert not same["differs"] and all(not s["differences"] for s in same["steps"])  # the policy against itself
    assert (view["policy"], view["what_if_policy"]) == ("b3living@2", "code_2024@1")
    steps = {(s["kind"], s["name"]): s for s in view["steps"]}
    assert [(s["kind"], s["name"], s["seq"]) for s in view["steps"]] == [
        ("event", "receive", 1),
        ("event", "acknowledge", 2),
        ("event", "respond", 3),
        ("deadline", "escalation_window", 4),
    ]
    # receive, Fri 18 Dec 2026: both open the acknowledgement, 5 WD -> Tue 29 Dec (25 and 28 Dec are bank
    # holidays). b3living counts its stage 1 response from logging: 10 WD -> Wed 6 Jan (1 Jan a holiday);
    # the Code counts it from the acknowledgement (6.3), so it opens none yet.
    assert steps["event", "receive"]["what_if"]["opened"] == {"stage_1_acknowledgement": "2026-12-29"}
    assert steps["event", "receive"]["differences"] == [
        "stage_1_response: opened due 2027-01-06 under b3living@2, not opened under code_2024@1"
    ]
    # acknowledge, Tue 22 Dec: the Code's response clock starts: 10 WD after 22 Dec = 23, 24, 29, 30, 31 Dec,
    # 4, 5, 6, 7, 8 Jan -> Fri 8 Jan. No role minimum at stage 1 under the Code: not refused.
    ack = steps["event", "acknowledge"]
    assert ack["what_if"]["applied"] and ack["what_if"]["closed"] == {"stage_1_acknowledgement": "met"}
    assert ack["differences"] == [
        "stage_1_response: not opened under b3living@2, opened due 2027-01-08 under code_2024@1"
    ]
    # respond, Tue 5 Jan: on time under both (6 Jan / 8 Jan). The letter has every field the Code asks for
    # (6.9). b3living opens its 4-week escalation window (-> 2 Feb); the Code has no window.
    respond = steps["event", "respond"]
    assert respond["what_if"]["state_after"] == respond["original"]["state_after"] == "stage_1_responded"
    assert respond["differences"] == [
        "escalation_window: opened due 2027-02-02 under b3living@2, not opened under code_2024@1"
    ]
    # 3 Feb 00:00: b3living's window passes and closes the case stage_1_final; under the Code the customer may
    # still escalate, so the case stays open. No breach under either: the case met the 2024 Code.
    assert steps["deadline", "escalation_window"]["differences"] == [
        "escalation_window due 2027-02-02 passed under b3living@2 only"
    ]
    assert view["original"] == {
        "state": "closed",
        "closure_reason": "stage_1_final",
        "breaches": [],
        "open_deadlines": {},
    }
    assert view["what_if"] == {
        "state": "stage_1_responded",
        "closure_reason": None,
        "breaches": [],
        "open_deadlines": {},
    }
    assert view["differs"] and view["until"] == "2027-02-03T09:00:00+00:00"


def test_what_if_shows_refusals_and_breaches_the_other_policy_would_have(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2027, 3, 1, 9, tzinfo=UTC))  # Monday
    app = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/w.db"), clock=clock)
    app.service.open_case("code_2024", {"incident_date": "2027-02-20", "formal": True}, case_id="c")
    clock.set(datetime(2027, 3, 5, 9, tzinfo=UTC))  # Friday: day 4 of the Code's 5 WD
    ack = {"handler": "ben", "handler_role": "officer", "complaint_definition": "Damp"}
    app.service.apply("c", "acknowledge", ack)
    view = AuditService(app.engine, app.catalog).what_if("c", "livin")
    app.engine.dispose()
    # livin: acknowledgement 2 WD from Mon 1 Mar -> Wed 3 Mar, passing at Thu 4 Mar 00:00 before the acknowledgement
    # on Fri 5 Mar: a breach under livin only. The acknowledgement itself then meets nothing under livin.
    kinds = [(s["kind"], s["name"]) for s in view["steps"]]
    assert kinds == [("event", "receive"), ("deadline", "stage_1_acknowledgement"), ("event", "acknowledge")]
    assert view["steps"][1]["differences"] == [
        "stage_1_acknowledgement due 2027-03-03 would have been breached under livin@1"
    ]
    assert view["what_if"]["breaches"] == ["stage_1_acknowledgement"] and view["original"]["breaches"] == []
    assert view["steps"][2]["what_if"]["applied"]


def test_what_if_refusals_are_listed_with_their_reasons(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2027, 3, 1, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/r.db"), clock=clock)
    app.service.open_case("code_2024", {"incident_date": "2027-02-20"}, case_id="c")  # no informal stage: stage_1
    clock.advance(timedelta(hours=2))
    ack = {"handler": "ben", "handler_role": "officer", "complaint_definition": "Damp"}
    app.service.apply("c", "acknowledge", ack)
    view = AuditService(app.engine, app.catalog).what_if("c", "brighter_places")
    app.engine.dispose()
    # brighter_places has an informal stage: a receive without formal=true lands in stage_0, where an
    # acknowledgement is not valid.
    acknowledge = view["steps"][-1]
    assert acknowledge["what_if"] == {
        "applied": False,
        "state_after": "stage_0",
        "reasons": ["invalid_in_state"],
        "opened": {},
        "closed": {},
    }
    assert acknowledge["differences"] == ["refused under brighter_places@1: invalid_in_state"]


def test_as_of_and_known_at_differ_on_a_back_dated_event(sqlite_url: str) -> None:
    clock = ManualClock(datetime(2027, 3, 1, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=sqlite_url), clock=clock)
    app.service.open_case("code_2024", {"incident_date": "2027-02-20", "formal": True}, case_id="c")
    clock.set(datetime(2027, 3, 4, 16, tzinfo=UTC))  # recorded Thursday afternoon ...
    ack = {"handler": "ben", "handler_role": "officer", "complaint_definition": "Damp"}
    app.service.apply("c", "acknowledge", ack, occurred_at=datetime(2027, 3, 2, 10, tzinfo=UTC))  # ... sent Tuesday
    audit = AuditService(app.engine, app.catalog)
    wednesday = datetime(2027, 3, 3, 12, tzinfo=UTC)
    happened = audit.replay("c", as_of=wednesday)
    known = audit.replay("c", known_at=wednesday)
    app.engine.dispose()
    # What had happened by Wednesday: acknowledged on Tuesday, the response due 10 WD later (16 Mar).
    assert happened["events_folded"] == [1, 2]
    assert [(d["kind"], d["due"]) for d in happened["deadlines"]] == [("stage_1_response", "2027-03-16")]
    # What the landlord's system knew on Wednesday: only the receipt, the acknowledgement still owed (8 Mar).
    assert known["events_folded"] == [1] and known["events_left_out"] == [2]
    assert [(d["kind"], d["due"]) for d in known["deadlines"]] == [("stage_1_acknowledgement", "2027-03-08")]
    assert happened["state"] == known["state"] == "stage_1"


def test_replay_before_the_case_existed_and_bad_instants(sqlite_url: str) -> None:
    clock = ManualClock(datetime(2027, 3, 1, 9, tzinfo=UTC))
    app = bootstrap(Settings(db_url=sqlite_url), clock=clock)
    app.service.open_case("code_2024", {"incident_date": "2027-02-20", "formal": True}, case_id="c")
    audit = AuditService(app.engine, app.catalog)
    early = audit.replay("c", as_of=datetime(2027, 2, 1, tzinfo=UTC))
    assert (early["state"], early["events_folded"], early["deadlines"]) == ("new", [], [])
    with pytest.raises(ComplaintsError) as err:
        audit.replay("nope")
    assert err.value.code == "case_not_found"
    app.engine.dispose()


# -- random histories through the real service and store ------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('prop')}/store.db")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_replay_equals_the_store_for_random_histories(store: Any) -> None:
    catalog = shipped()
    audit = AuditService(store, catalog)
    counter = iter(range(1_000_000))

    class StoredCaseMachine(RuleBasedStateMachine):
        @initialize(ref=st.sampled_from(POLICIES), formal=st.booleans(), months_ago=st.integers(0, 14))
        def receive(self, ref: str, formal: bool, months_ago: int) -> None:
            self.clock = ManualClock(START)
            self.service = ComplaintService(UnitOfWorkFactory(store), catalog, self.clock)
            self.case_id = f"p{next(counter)}"
            incident = (local_date(START) - timedelta(days=30 * months_ago)).isoformat()
            data = {
                "incident_date": incident,
                "formal": formal,
                "subject_staff": "zed",
                "subject_department": "repairs",
            }
            self.service.open_case(ref, data, case_id=self.case_id)

        @rule(hours=st.integers(1, 24 * 12))
        def time_passes(self, hours: int) -> None:
            self.clock.advance(timedelta(hours=hours))

        @rule(data=st.data(), event=st.sampled_from(EVENT_MIX), earlier=st.booleans())
        def an_event(self, data: st.DataObject, event: str, earlier: bool) -> None:
            payload = data.draw(_event_data(event, local_date(self.clock.now())))
            occurred = self.clock.now() - timedelta(days=2 if earlier else 0)
            with contextlib.suppress(ComplaintsError):
                self.service.apply(self.case_id, event, payload, occurred_at=occurred)

        def teardown(self) -> None:
            if hasattr(self, "case_id"):
                report = audit.verify(self.case_id)
                assert report.ok, [p.line() for p in report.problems]

    StoredCaseMachine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
    )
    StoredCaseMachine.TestCase().runTest()
    whole = audit.verify(jobs=1)
    assert whole.ok and whole.cases >= 25, [p.line() for p in whole.problems]
