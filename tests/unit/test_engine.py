"""The engine's rules for every event (DOMAIN.md, Rules for every event): refusals give every reason and
change nothing; invalid_data comes first; the two time reasons; back-dated events.

Stories start on Monday 7 June 2027 at 09:00 UTC (tests/unit/case_builder.py); dates in comments are
worked out by hand.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.unit.case_builder import LETTER, POLICIES, STAGE_1_HANDLER, START, Story, at_stage_2_requested, story
from workflow.audit.history import new_case, replay
from workflow.catalog import shipped
from workflow.engine import apply, decide, due_deadlines
from workflow.errors import EventRefused, UnknownEvent
from workflow.vocabulary import DEADLINE_PASSED


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def refusal(s: Story, event: str, data: dict[str, Any], occurred_at: datetime | None = None) -> EventRefused:
    before = copy.deepcopy(s.case.to_dict())
    with pytest.raises(EventRefused) as caught:
        apply(s.case, s.policy, event, data, occurred_at or s.now, s.now)
    assert s.case.to_dict() == before, "a refusal changed the case"
    return caught.value


# --- a refusal gives every reason and changes nothing ------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_a_refused_event_raises_every_reason_and_leaves_the_case_untouched(ref: str) -> None:
    s = story(ref, subject_staff="Ann Smith")
    refused = refusal(s, "acknowledge", {"handler": "ann smith", "handler_role": "officer"})
    assert "handler_is_subject" in refused.reasons and "definition_missing" in refused.reasons
    assert s.case.version == 1
    refused = refusal(s, "close", {}, occurred_at=s.now + timedelta(hours=1))
    assert sorted(refused.reasons) == ["invalid_in_state", "occurred_in_future"]


def test_a_refusal_carries_details_for_each_reason() -> None:
    s = story("code_2024@1").ack()
    refused = refusal(s, "respond", {"decision": "upheld"}, occurred_at=s.now + timedelta(minutes=5))
    assert sorted(refused.reasons) == ["letter_incomplete", "occurred_in_future"]
    assert "occurred_at" in refused.details and "letter_incomplete" in refused.details


def test_an_unknown_event_is_a_typed_error_not_a_refusal() -> None:
    s = story("livin@1")
    with pytest.raises(UnknownEvent):
        decide(s.case, s.policy, "escalate", {}, s.now, s.now)


def test_an_event_not_valid_in_the_state_is_refused_without_its_guards() -> None:
    s = story("livin@1").ack().respond()  # stage_1_responded
    # acknowledge's guards would fail (no definition, subject) but the transition does not exist here
    assert s.reasons("acknowledge", {"handler": "x", "handler_role": "officer"}) == ["invalid_in_state"]


# --- invalid_data comes first ----------------------------------------------------------------------


BAD_DATA = [
    ("receive", {"formal": True}, "incident_date"),
    ("receive", {"incident_date": "2027-6-1"}, "incident_date"),
    ("receive", {"incident_date": "2027-02-30"}, "incident_date"),
    ("receive", {"incident_date": "2027-06-01", "aware_date": 20270601}, "aware_date"),
    ("receive", {"incident_date": "2027-06-01", "formal": "true"}, "formal"),
    ("receive", {"incident_date": "2027-06-01", "anonymous": 1}, "anonymous"),
    ("receive", {"incident_date": "2027-06-01", "flags": "vulnerable"}, "flags"),
    ("receive", {"incident_date": "2027-06-01", "flags": ["Vulnerable"]}, "flags"),
    ("receive", {"incident_date": "2027-06-01", "channel": 3}, "channel"),
    ("receive", {"incident_date": "2027-06-01", "priority": "high"}, "priority"),
    ("acknowledge", {"handler_role": "officer"}, "handler"),
    ("acknowledge", {"handler": " ", "handler_role": "officer"}, "handler"),
    ("acknowledge", {"handler": "x"}, "handler_role"),
    ("acknowledge", {"handler": "x", "handler_role": "Officer"}, "handler_role"),
    ("acknowledge", {"handler": "x", "handler_role": "ceo"}, "handler_role"),
    ("acknowledge", {"handler": "x", "handler_role": "officer", "actor": "x"}, "actor"),
    ("extend", {"new_due": "2027-07-01", "customer_agreed": "yes"}, "customer_agreed"),
    ("extend", {"new_due": "2027-07-01", "good_reason": 0}, "good_reason"),
    ("extend", {"new_due": "2027-07-01", "ombudsman_details_given": "true"}, "ombudsman_details_given"),
    ("extend", {"new_due": 20270701}, "new_due"),
    ("request_escalation", {"requested_by": "Customer"}, "requested_by"),
    ("request_escalation", {"requested_by": "landlord"}, "requested_by"),
    ("log_formal", {"requested_by": "tenant"}, "requested_by"),
    ("respond", {"decision": ["upheld"]}, "decision"),
    ("refer_to_ombudsman", {"via_designated_person": "no"}, "via_designated_person"),
    ("decline", {"reason": None, "because": "x"}, "because"),
    ("add_issue", {"description": 7}, "description"),
    ("withdraw", {"summary": {"text": "x"}}, "summary"),
]


@pytest.mark.parametrize(("event", "data", "field"), BAD_DATA)
def test_data_that_does_not_fit_is_invalid_data_naming_the_field(event: str, data: dict, field: str) -> None:
    s = story("livin@1")  # stage_1: several of these events are not even valid here
    decision = decide(s.case, s.policy, event, data, s.now, s.now)
    assert decision.reasons == ("invalid_data",)
    assert f"data.{field}" in decision.details


def test_data_that_is_not_an_object_is_invalid_data() -> None:
    s = story("livin@1")
    assert decide(s.case, s.policy, "add_issue", ["x"], s.now, s.now).reasons == ("invalid_data",)  # type: ignore[arg-type]


def test_null_means_missing() -> None:
    s = story("livin@1")
    assert s.reasons("add_issue", {"description": None}) == []
    assert s.reasons("acknowledge", {**STAGE_1_HANDLER, "handler_department": None}) == []


def test_invalid_data_replaces_the_state_check_and_the_guards() -> None:
    s = story("code_2024@1").do("decline", {"reason": "service_request"})  # closed
    assert s.reasons("acknowledge", {"handler": "x", "handler_role": "boss"}) == ["invalid_data"]
    s = story("code_2024@1")
    assert s.reasons("request_escalation", {"requested_by": "nobody"}) == ["invalid_data"]  # not stage_1_not_finished


def test_only_the_time_reasons_accompany_invalid_data() -> None:
    s = story("code_2024@1").ack()
    future = s.now + timedelta(days=1)
    assert s.reasons("close", {"summary": 1}, occurred_at=future) == ["invalid_data", "occurred_in_future"]
    past = START - timedelta(days=1)
    assert s.reasons("close", {"summary": 1}, occurred_at=past) == ["invalid_data", "occurred_before_previous_event"]


# --- the two time reasons --------------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_an_event_later_than_now_is_refused_with_its_other_reasons(ref: str) -> None:
    s = story(ref).ack()
    later = s.now + timedelta(seconds=1)
    assert s.reasons("add_issue", {"description": "x"}, occurred_at=later) == ["occurred_in_future"]
    assert s.reasons("respond", {"decision": "x"}, occurred_at=later) == ["letter_incomplete", "occurred_in_future"]


@pytest.mark.parametrize("ref", POLICIES)
def test_an_event_earlier_than_the_previous_one_is_refused_with_its_other_reasons(ref: str) -> None:
    s = story(ref).ack()
    earlier = s.case.last_occurred_at - timedelta(seconds=1)
    assert s.reasons("add_issue", {"description": "x"}, occurred_at=earlier) == ["occurred_before_previous_event"]
    assert s.reasons("close", {}, occurred_at=earlier) == ["invalid_in_state", "occurred_before_previous_event"]
    assert s.reasons("add_issue", {"description": "x"}, occurred_at=s.case.last_occurred_at) == []


@pytest.mark.parametrize("ref", POLICIES)
def test_a_recorded_breach_is_a_previous_event(ref: str) -> None:
    # acknowledgement due 5 WD after Mon 7 June = 14 June (livin: 2 WD = 9 June); passes at 23:00 UTC
    due = "2027-06-09" if ref == "livin@1" else "2027-06-14"
    s = story(ref).until(utc(f"{due}T23:00:00"))
    assert s.case.breaches == ["stage_1_acknowledgement"]
    assert s.case.last_occurred_at == utc(f"{due}T23:00:00")
    on_time = utc(f"{due}T15:00:00")
    assert s.reasons("acknowledge", STAGE_1_HANDLER, occurred_at=on_time) == ["occurred_before_previous_event"]
    assert s.reasons("acknowledge", STAGE_1_HANDLER) == []


def test_deadline_passed_from_a_client_is_invalid_in_state() -> None:
    s = story("livin@1")
    data = {"deadline": "stage_1_acknowledgement", "due": "2027-06-09"}
    assert decide(s.case, s.policy, DEADLINE_PASSED, data, s.now, s.now).reasons == ("invalid_in_state",)


def test_deadline_passed_naming_no_open_deadline_is_invalid_in_state() -> None:
    s = story("livin@1")
    data = {"deadline": "stage_1_acknowledgement", "due": "2027-06-10"}  # the real one is due 9 June
    decision = decide(s.case, s.policy, DEADLINE_PASSED, data, s.now, s.now, from_client=False)
    assert decision.reasons == ("invalid_in_state",)


# --- back-dated events ------------------------------------------------------------------------------


def test_a_back_dated_receive_anchors_on_its_day_and_its_due_deadlines_fire_at_once_in_order() -> None:
    policy = shipped().resolve("livin@1")
    now = utc("2027-06-30T10:00:00")
    case = apply(new_case("c", policy), policy, "receive", {"incident_date": "2027-06-14", "formal": True}, START, now)
    # anchored on Mon 7 June: ack 2 WD = 9 June; response 10 WD = 21 June; both passed by 30 June
    due = due_deadlines(case, now)
    assert [(d.kind, d.due.isoformat()) for d in due] == [
        ("stage_1_acknowledgement", "2027-06-09"),
        ("stage_1_response", "2027-06-21"),
    ]
    s = Story("livin@1", now=now)
    s.case = case
    s.fire()
    # the missed response starts the update clock: 10 WD after 21 June = 5 July, still open
    assert s.case.breaches == ["stage_1_acknowledgement", "stage_1_response"]
    assert s.case.open_deadlines_map() == {"stage_1_update": "2027-07-05"}
    assert s.case.last_occurred_at == utc("2027-06-21T23:00:00")


def test_a_back_dated_response_opens_its_window_from_its_own_day() -> None:
    s = story("livin@1").ack().wait(days=13, hours=12)  # Sun 20 June 21:01 UTC, response due 21 June
    s.do("respond", dict(LETTER), occurred_at=START + timedelta(minutes=5))
    # window: 7 June (the back-dated day) + 14 days = 21 June, not 20 June + 14
    assert s.case.open_deadlines_map() == {"escalation_window": "2027-06-21"}
    s.until(utc("2027-06-21T23:00:00"))
    assert (s.case.state, s.case.closure_reason, s.case.breaches) == ("closed", "stage_1_final", [])


def test_a_back_dated_event_opening_an_already_due_deadline_fires_it_before_the_next_event() -> None:
    s = story("resolution_team@1").ack()
    now = utc("2027-07-20T10:00:00")
    s.now = now - timedelta(minutes=1)
    # responded on 8 June (back-dated): 15 WD window = 9-11 (3), 14-18 (8), 21-25 (13), 28, 29 June
    s.case = apply(s.case, s.policy, "respond", dict(LETTER), utc("2027-06-08T09:00:00"), s.now)
    assert s.case.open_deadlines_map() == {"escalation_window": "2027-06-29"}
    s.fire()
    assert (s.case.state, s.case.closure_reason) == ("closed", "stage_1_final")
    assert s.reasons("request_escalation", {"requested_by": "customer", "reasons": "x"}) == ["escalation_window_closed"]


# --- deadlines due at the same instant ---------------------------------------------------------------


def test_deadlines_due_at_the_same_instant_fire_in_the_order_they_were_opened() -> None:
    # livin: response due 21 June passes -> update due 10 WD later = 5 July; extend to 5 July as well
    s = story("livin@1").ack().until(utc("2027-06-21T23:00:00"))
    s.do("extend", {"new_due": "2027-07-05", "reason": "survey"})
    update, response = sorted(s.case.open_deadlines(), key=lambda d: d.number)
    assert (update.kind, response.kind) == ("stage_1_update", "stage_1_response")
    assert [d.kind for d in due_deadlines(s.case, utc("2027-07-05T23:00:00"))] == [
        "stage_1_update",
        "stage_1_response",
    ]
    s.until(utc("2027-07-05T23:00:00"))
    assert s.case.breaches == ["stage_1_response", "stage_1_update", "stage_1_response"]


# --- replay -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_replaying_the_recorded_events_reproduces_the_case(ref: str) -> None:
    s = at_stage_2_requested(ref).wait(days=20).accept().wait(days=40).respond().wait(days=70)
    assert replay(s.case.id, s.policy, s.records).to_dict() == s.case.to_dict()
