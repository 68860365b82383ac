"""request_escalation's guards under every policy (DOMAIN.md, Guards in detail).

Stories respond on Monday 7 June 2027 (tests/unit/case_builder.py). Escalation windows worked out by
hand from DOMAIN.md: b3living 4 weeks -> 5 July; resolution_team and brighter_places 15 WD -> 8-11 (4),
14-18 (9), 21-25 (14), 28 June; livin 14 calendar days -> 21 June; code_2024 has none. A window passes at
local midnight starting the next day: 23:00 UTC in June and July.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.case_builder import POLICIES, Story, story

WINDOW_END = {
    "b3living@1": "2027-07-05",
    "b3living@2": "2027-07-05",
    "resolution_team@1": "2027-06-28",
    "brighter_places@1": "2027-06-28",
    "livin@1": "2027-06-21",
}
LATE_ALLOWED = {"b3living@1", "b3living@2"}
EARLY_ALLOWED = {"b3living@1", "b3living@2"}
REASONS_REQUIRED = {"resolution_team@1", "livin@1"}

ASK = {"requested_by": "customer", "reasons": "still leaking"}


def responded(ref: str, **receive: object) -> Story:
    return story(ref, **receive).ack().respond()


def passing(day: str) -> datetime:
    """23:00 UTC on ``day``: the first instant of the next London day in summer time."""
    return datetime.fromisoformat(f"{day}T23:00:00").replace(tzinfo=UTC)


# --- not_requested_by_customer ----------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_only_the_customer_or_an_authorised_representative_escalates(ref: str) -> None:
    s = responded(ref)
    assert s.reasons("request_escalation", ASK) == []
    assert s.reasons("request_escalation", {**ASK, "requested_by": "staff"}) == ["not_requested_by_customer"]
    assert s.reasons("request_escalation", {**ASK, "requested_by": "representative"}) == ["not_requested_by_customer"]
    unauthorised = responded(ref, representative=True)
    assert unauthorised.reasons("request_escalation", {**ASK, "requested_by": "representative"}) == [
        "not_requested_by_customer"
    ]
    authorised = responded(ref, representative=True, authority_given=True)
    assert authorised.reasons("request_escalation", {**ASK, "requested_by": "representative"}) == []
    assert authorised.reasons("request_escalation", ASK) == []


@pytest.mark.parametrize("ref", POLICIES)
def test_a_missing_requester_is_not_the_customer(ref: str) -> None:
    assert responded(ref).reasons("request_escalation", {"reasons": "x"}) == ["not_requested_by_customer"]


# --- escalation_reasons_required -----------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
@pytest.mark.parametrize("reasons", [None, "", "  "])
def test_reasons_are_required_only_where_the_policy_says(ref: str, reasons: str | None) -> None:
    data = {"requested_by": "customer"} | ({} if reasons is None else {"reasons": reasons})
    expected = ["escalation_reasons_required"] if ref in REASONS_REQUIRED else []
    assert responded(ref).reasons("request_escalation", data) == expected


# --- escalation_window_closed ------------------------------------------------------------------------


@pytest.mark.parametrize("ref", sorted(WINDOW_END))
def test_the_window_is_open_to_its_last_local_second(ref: str) -> None:
    s = responded(ref)
    assert s.case.open_deadlines_map() == {"escalation_window": WINDOW_END[ref]}
    s.until(datetime.fromisoformat(f"{WINDOW_END[ref]}T22:59:59+00:00"))
    assert s.case.state == "stage_1_responded"
    assert s.reasons("request_escalation", ASK) == []


@pytest.mark.parametrize("ref", sorted(WINDOW_END))
def test_after_the_window_the_case_is_closed_and_only_a_reasoned_late_request_reopens_it(ref: str) -> None:
    s = responded(ref).until(passing(WINDOW_END[ref]))
    assert (s.case.state, s.case.closure_reason, s.case.breaches) == ("closed", "stage_1_final", [])
    assert s.reasons("request_escalation", ASK) == ["escalation_window_closed"]
    assert s.reasons("request_escalation", {**ASK, "late_reason": "  "}) == ["escalation_window_closed"]
    late = {**ASK, "late_reason": "was in hospital"}
    assert s.reasons("request_escalation", late) == ([] if ref in LATE_ALLOWED else ["escalation_window_closed"])


@pytest.mark.parametrize("ref", sorted(LATE_ALLOWED))
def test_a_late_escalation_clears_the_closure(ref: str) -> None:
    s = responded(ref).until(passing(WINDOW_END[ref])).wait(days=30)
    s.do("request_escalation", {**ASK, "late_reason": "was abroad"})
    assert (s.case.state, s.case.closure_reason) == ("stage_2_requested", None)


def test_the_code_has_no_window_so_escalation_stays_open() -> None:
    s = responded("code_2024@1")
    assert s.case.open_deadlines_map() == {}
    s.wait(days=400)
    assert s.reasons("request_escalation", ASK) == []
    s.do("close", {"summary": "done"}).wait(days=30)
    assert s.reasons("request_escalation", ASK) == []


@pytest.mark.parametrize("ref", POLICIES)
def test_after_a_close_the_customer_may_escalate_while_the_window_runs(ref: str) -> None:
    s = responded(ref).do("close", {"summary": "customer satisfied"})
    assert (s.case.state, s.case.closure_reason) == ("closed", "stage_1_final")
    assert s.case.open_deadlines_map() == ({"escalation_window": WINDOW_END[ref]} if ref in WINDOW_END else {})
    assert s.reasons("request_escalation", ASK) == []
    s.do("request_escalation", ASK)
    assert s.case.state == "stage_2_requested"
    assert "escalation_window" not in s.case.open_deadlines_map()


@pytest.mark.parametrize("ref", sorted(WINDOW_END))
def test_a_window_that_passes_after_a_close_is_recorded_but_not_breached(ref: str) -> None:
    s = responded(ref).do("close", {"summary": "customer satisfied"}).until(passing(WINDOW_END[ref]))
    assert (s.case.state, s.case.open_deadlines_map(), s.case.breaches) == ("closed", {}, [])
    assert s.reasons("request_escalation", ASK) == ["escalation_window_closed"]


@pytest.mark.parametrize("ref", POLICIES)
def test_only_a_case_closed_at_stage_1_can_be_escalated_from_closed(ref: str) -> None:
    s = story(ref).ack().do("withdraw", {"summary": "moved away"})
    assert s.reasons("request_escalation", ASK) == ["invalid_in_state"]
    s = story(ref).do("decline", {"reason": "service_request"})
    assert s.reasons("request_escalation", ASK) == ["invalid_in_state"]


# --- stage_1_not_finished ----------------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_no_escalation_before_the_stage_1_response_date(ref: str) -> None:
    assert story(ref).ack().reasons("request_escalation", ASK) == ["stage_1_not_finished"]


@pytest.mark.parametrize("ref", POLICIES)
def test_early_escalation_after_the_original_response_date_only_at_b3living(ref: str) -> None:
    s = story(ref).ack().until(passing("2027-06-21"))  # stage 1 response due 21 June passes
    assert s.case.breaches == ["stage_1_response"]
    expected = [] if ref in EARLY_ALLOWED else ["stage_1_not_finished"]
    assert s.reasons("request_escalation", ASK) == expected


@pytest.mark.parametrize("ref", sorted(EARLY_ALLOWED))
def test_an_agreed_extension_holds_off_early_escalation_until_it_passes(ref: str) -> None:
    s = story(ref).ack().do("extend", {"new_due": "2027-06-30", "reason": "r", "customer_agreed": True})
    s.until(passing("2027-06-21"))
    assert s.reasons("request_escalation", ASK) == ["stage_1_not_finished"]
    s.until(passing("2027-06-30"))
    assert s.reasons("request_escalation", ASK) == []


@pytest.mark.parametrize("ref", sorted(EARLY_ALLOWED))
def test_an_extension_without_agreement_does_not_hold_off_early_escalation(ref: str) -> None:
    s = story(ref).ack().do("extend", {"new_due": "2027-06-30", "reason": "r", "ombudsman_details_given": True})
    assert s.reasons("request_escalation", ASK) == ["stage_1_not_finished"]
    s.until(passing("2027-06-21"))
    assert s.reasons("request_escalation", ASK) == []


def test_b3living_1_needs_a_response_date_before_an_early_escalation() -> None:
    s = story("b3living@1")  # the response counts from the acknowledgement: no date yet
    assert s.reasons("request_escalation", ASK) == ["stage_1_not_finished"]


@pytest.mark.parametrize("ref", sorted(EARLY_ALLOWED))
def test_an_early_escalation_cancels_stage_1_obligations(ref: str) -> None:
    s = story(ref).ack().until(passing("2027-06-21")).do("request_escalation", ASK)
    assert s.case.state == "stage_2_requested"
    kinds = {d.kind: d.status for d in s.case.deadlines}
    assert kinds["stage_1_response"] == "passed"
    assert not [d for d in s.case.open_deadlines() if d.stage == 1]


def test_every_failing_escalation_guard_is_reported_at_once() -> None:
    s = story("resolution_team@1").ack()
    assert s.reasons("request_escalation", {"requested_by": "staff"}) == sorted(
        ["not_requested_by_customer", "stage_1_not_finished", "escalation_reasons_required"]
    )
    s = responded("livin@1").until(passing("2027-06-21"))
    assert s.reasons("request_escalation", {"requested_by": "staff", "late_reason": "x"}) == sorted(
        ["not_requested_by_customer", "escalation_window_closed", "escalation_reasons_required"]
    )
