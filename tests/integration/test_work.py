"""The work list on SQLite and PostgreSQL: owed obligations only, due order, working days left, filters, pages.

The cases are driven through the service with a manual clock, as a complaints team would: code_2024 (no
escalation window), b3living (a 4-week window, which never appears) and a made-up policy with a closure day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api.bootstrap import App, Settings, bootstrap
from service.work import InvalidWorkQuery, WorkQuery
from tests.integration.test_timers_support import write_policy
from workflow.clock import ManualClock

T0 = datetime(2027, 1, 11, 9, tzinfo=UTC)  # Monday
RECEIVE = {"incident_date": "2027-01-04", "channel": "web", "formal": True}
LETTER = {"decision": "d", "reasons": "r", "remedy": "x", "outstanding_actions": "none", "escalation_route": "e"}


def ack(handler: str) -> dict[str, str]:
    return {"handler": handler, "handler_role": "officer", "complaint_definition": "damp"}


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    folder = write_policy(tmp_path / "policies")
    text = (folder / "timer_test" / "1.toml").read_text(encoding="utf-8")
    (folder / "closing").mkdir()
    closing = text.replace('id = "timer_test"', 'id = "closing"').replace(
        "closure_days = []", "closure_days = [2027-01-14, 2027-01-21]"
    )
    (folder / "closing" / "1.toml").write_text(closing.replace('"1 calendar day"', '"5 working days"'))
    app = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(folder)), clock=ManualClock(T0))
    yield app
    app.engine.dispose()


def clock(app: App) -> ManualClock:
    assert isinstance(app.clock, ManualClock)
    return app.clock


def rows(app: App, **filters: object) -> list[tuple[str, str, str, int, bool]]:
    page = app.service.work(WorkQuery(**filters))  # type: ignore[arg-type]
    return [(i.case_id, i.kind, i.due.isoformat(), i.working_days_left, i.breached) for i in page.items]


def build(app: App) -> None:
    """Monday 11 January 2027: six cases; then Wednesday 20 January: three acknowledgements have passed."""
    s = app.service
    for case_id in ("a", "b", "d", "e", "f"):
        s.open_case("code_2024", RECEIVE, case_id=case_id)
    s.open_case("b3living", RECEIVE, case_id="c")
    s.apply("d", "acknowledge", ack("Ann Smith"))
    s.apply("f", "acknowledge", ack("Bob"))
    s.apply("c", "acknowledge", ack("Cy"))
    s.apply("c", "respond", {**LETTER, "ombudsman_info": "hos"})  # the escalation window: never on the list
    clock(app).set(datetime(2027, 1, 20, 9, tzinfo=UTC))
    s.fire_due()  # a, b, e: stage_1_acknowledgement (due Monday 18th) breached
    s.apply("b", "acknowledge", ack("Bea"))  # met late: gone, the response re-anchored (due 3 February)
    s.apply("e", "withdraw", {"summary": "no longer"})  # closed: nothing owed


def test_owed_obligations_in_due_order_with_working_days_left(app: App) -> None:
    build(app)
    assert rows(app) == [
        ("a", "stage_1_acknowledgement", "2027-01-18", -2, True),  # breached and still unmet
        ("d", "stage_1_response", "2027-01-25", 3, False),
        ("f", "stage_1_response", "2027-01-25", 3, False),
        ("a", "stage_1_response", "2027-02-01", 8, False),  # the provisional date the breach opened
        ("b", "stage_1_response", "2027-02-03", 10, False),
    ]
    page = app.service.work(WorkQuery())
    first = page.items[0]
    assert (page.total, page.today, first.state, first.handler, first.policy_id, first.policy_version) == (
        5, date(2027, 1, 20), "stage_1", None, "code_2024", 1,
    )  # fmt: skip
    assert first.breach_at == datetime(2027, 1, 19, tzinfo=UTC) and first.stage == 1
    assert [i.handler for i in page.items] == [None, "Ann Smith", "Bob", None, "Bea"]


def test_a_breach_met_late_leaves_and_an_extension_replaces_the_breached_date(app: App) -> None:
    build(app)
    clock(app).set(datetime(2027, 1, 27, 9, tzinfo=UTC))  # Wednesday: d and f's responses (due 25th) passed
    app.service.fire_due()
    extension = {"new_due": "2027-02-05", "reason": "survey", "ombudsman_details_given": True}
    app.service.apply("f", "extend", extension)
    assert [r for r in rows(app) if r[0] in ("d", "f")] == [
        ("d", "stage_1_response", "2027-01-25", -2, True),
        ("f", "stage_1_response", "2027-02-05", 7, False),
    ]
    app.service.apply("d", "respond", LETTER)  # late, but it meets the obligation: the breach stays, the work goes
    assert [r[0] for r in rows(app)] == ["a", "a", "b", "f"]
    assert app.service.get_case("d")["breaches"] == ["stage_1_response"]


def test_filters_combine(app: App) -> None:
    build(app)
    assert [r[0] for r in rows(app, due_before=date(2027, 1, 25))] == ["a"]  # exclusive
    assert [r[0] for r in rows(app, due_before=date(2027, 1, 26))] == ["a", "d", "f"]
    assert [r[1] for r in rows(app, kind="stage_1_acknowledgement")] == ["stage_1_acknowledgement"]
    assert [r[0] for r in rows(app, handler="  ann SMITH ")] == ["d"]
    assert [r[0] for r in rows(app, handler="nobody")] == []
    assert rows(app, policy="b3living") == [] and len(rows(app, policy="code_2024@1")) == 5
    assert len(rows(app, state="stage_1")) == 5 and rows(app, state="closed") == []


def test_pages_follow_the_same_order(app: App) -> None:
    build(app)
    everything = rows(app)
    pages = [app.service.work(WorkQuery(limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert [p.total for p in pages] == [5, 5, 5, 5]
    assert [p.next_offset for p in pages] == [2, 4, None, None]
    seen = [(i.case_id, i.kind, i.due.isoformat(), i.working_days_left, i.breached) for p in pages for i in p.items]
    assert seen == everything


def test_the_case_policy_calendar_counts_its_closure_days(app: App) -> None:
    app.service.open_case("closing", RECEIVE, case_id="z")  # 5 working days, Thursdays 14th and 21st closed
    [item] = app.service.work(WorkQuery(policy="closing", kind="stage_1_acknowledgement")).items
    assert item.due == date(2027, 1, 19) and item.working_days_left == 5  # 12, 13, 15, 18, 19
    clock(app).set(datetime(2027, 1, 22, 9, tzinfo=UTC))  # Friday; the 20th and the 22nd count, the 21st not
    assert app.service.work(WorkQuery(policy="closing")).items[0].working_days_left == -2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (WorkQuery(kind="escalation_window"), "kind"),
        (WorkQuery(kind="ombudsman_wait"), "kind"),
        (WorkQuery(kind="stage_9"), "kind"),
        (WorkQuery(state="open"), "state"),
        (WorkQuery(policy="nobody"), "policy"),
        (WorkQuery(policy="code_2024@9"), "policy"),
        (WorkQuery(handler="  "), "handler"),
        (WorkQuery(limit=0), "limit"),
        (WorkQuery(limit=501), "limit"),
        (WorkQuery(offset=-1), "offset"),
    ],
)
def test_bad_filters_name_the_field(app: App, query: WorkQuery, field: str) -> None:
    with pytest.raises(InvalidWorkQuery) as caught:
        app.service.work(query)
    assert caught.value.code == "invalid_data" and list(caught.value.details) == [field]


def test_an_empty_store_has_no_work(app: App) -> None:
    page = app.service.work(WorkQuery(due_before=date(2030, 1, 1)))
    assert (page.items, page.total, page.next_offset) == ([], 0, None)


def test_windows_never_appear(app: App) -> None:
    build(app)
    assert [d["kind"] for d in app.service.get_case("c")["deadlines"]] == ["escalation_window"]
    assert "c" not in {r[0] for r in rows(app)}
    assert all(r[1] not in ("escalation_window", "ombudsman_wait") for r in rows(app))


def owed(app: App) -> list[tuple[str, bool]]:
    return [(i.kind, i.breached) for i in app.service.work(WorkQuery()).items]


def test_keep_in_loop_updates_and_stage_2_on_livin(app: App) -> None:
    s = app.service
    s.open_case("livin", RECEIVE, case_id="l")
    s.apply("l", "acknowledge", ack("Lee"))
    assert owed(app) == [("stage_1_response", False)]  # due 25 January
    clock(app).set(datetime(2027, 1, 27, 9, tzinfo=UTC))
    s.fire_due()  # the response is breached; the update clock starts (due 8 February)
    assert owed(app) == [("stage_1_response", True), ("stage_1_update", False)]
    clock(app).set(datetime(2027, 2, 10, 9, tzinfo=UTC))
    s.fire_due()  # the update is missed: a breach, and the next one opens, which takes its place
    assert owed(app) == [("stage_1_response", True), ("stage_1_update", False)]
    assert s.get_case("l")["breaches"] == ["stage_1_response", "stage_1_update"]
    s.apply("l", "respond", LETTER)  # late: it meets the response and the update; the window is not work
    assert owed(app) == []
    s.apply("l", "request_escalation", {"requested_by": "customer", "reasons": "procedure"})
    assert owed(app) == [("stage_2_acknowledgement", False)]
    clock(app).set(datetime(2027, 3, 1, 9, tzinfo=UTC))
    s.fire_due()
    item, provisional = app.service.work(WorkQuery()).items  # the missed acceptance opened a response date
    assert provisional.kind == "stage_2_response" and not provisional.breached
    assert (item.kind, item.breached, item.state, item.handler) == (
        "stage_2_acknowledgement",
        True,
        "stage_2_requested",
        "Lee",
    )
    assert item.working_days_left < 0
    s.apply(
        "l", "acknowledge", {**ack("Mo"), "handler_role": "manager", "handler_department": "repairs"}
    )  # accepted late: gone, the response re-anchored
    assert [(k, b) for k, b in owed(app)] == [("stage_2_response", False)]
    assert app.service.work(WorkQuery()).items[0].handler == "Mo"


def test_an_informal_breach_that_moves_the_case_leaves_the_informal_obligation(app: App) -> None:
    s = app.service
    s.open_case("brighter_places", {**RECEIVE, "formal": False}, case_id="bp")
    s.open_case("livin", {**RECEIVE, "formal": False}, case_id="lv")
    clock(app).set(datetime(2027, 1, 20, 9, tzinfo=UTC))
    s.fire_due()
    by_case = {(i.case_id, i.kind): i for i in app.service.work(WorkQuery()).items}
    assert ("lv", "informal_response") in by_case and by_case["lv", "informal_response"].state == "stage_0"
    assert ("bp", "informal_response") not in by_case  # the breach began stage 1: its clocks are the work now
    assert ("bp", "stage_1_acknowledgement") in by_case
    s.apply("lv", "log_formal", {"requested_by": "customer"})
    assert ("lv", "informal_response") not in {(i.case_id, i.kind) for i in app.service.work(WorkQuery()).items}
