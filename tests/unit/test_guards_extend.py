"""The extend guards under every policy, at both stages (DOMAIN.md, Guards in detail).

Every event of a story happens on Monday 7 June 2027 unless moved on; dates worked out by hand:
- stage 1 response: 10 WD after 7 June = 21 June (from logging or from a same-day acknowledgement);
  cap +10 WD after 21 June = 5 July; the next working day is 6 July.
- stage 2 response: 20 WD after 7 June = 5 July (livin: 10 WD after acceptance = 21 June);
  cap +20 WD after 5 July = 2 August (code_2024, resolution_team); +10 WD = 19 July (b3living,
  brighter_places); livin has no cap.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.case_builder import POLICIES, Story, at_stage_2_requested, story

FROM_ACK = {"code_2024@1", "b3living@1", "resolution_team@1"}  # stage 1 response counts from the acknowledgement
S1_CAP_END = "2027-07-05"
S1_BEYOND = "2027-07-06"
S2_DUE = {r: "2027-07-05" for r in POLICIES} | {"livin@1": "2027-06-21"}
S2_CAP = {
    "code_2024@1": ("2027-08-02", "2027-08-03"),
    "resolution_team@1": ("2027-08-02", "2027-08-03"),
    "b3living@1": ("2027-07-19", "2027-07-20"),
    "b3living@2": ("2027-07-19", "2027-07-20"),
    "brighter_places@1": ("2027-07-19", "2027-07-20"),
}
AGREEMENT = {"b3living@1", "b3living@2"}  # agreement beyond +10 WD, or the Ombudsman's details instead
DETAILS_ALWAYS = {"code_2024@1"}  # the Ombudsman's details with every extension

EVERYTHING = {"reason": "survey", "good_reason": True, "customer_agreed": True, "ombudsman_details_given": True}


def ext(new_due: str | None, **data: Any) -> dict[str, Any]:
    out = {**EVERYTHING, **data}
    if new_due is not None:
        out["new_due"] = new_due
    return {k: v for k, v in out.items() if v is not None}


def stage_2(ref: str) -> Story:
    return at_stage_2_requested(ref).accept()


# --- not_acknowledged ---------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_no_extension_before_a_response_date_exists(ref: str) -> None:
    s = story(ref)
    expected = ["not_acknowledged"] if ref in FROM_ACK else []
    assert s.reasons("extend", ext("2027-12-01")) == expected


@pytest.mark.parametrize("ref", sorted(FROM_ACK))
def test_without_a_response_date_the_other_checks_still_run(ref: str) -> None:
    s = story(ref)
    assert s.reasons("extend", {"new_due": "2027-06-01"}) == sorted(
        ["not_acknowledged", "new_due_invalid", "extension_reason_missing"]
        + (["ombudsman_details_missing"] if ref in DETAILS_ALWAYS else [])
    )


@pytest.mark.parametrize("ref", sorted(FROM_ACK))
def test_a_provisional_response_date_counts_as_started(ref: str) -> None:
    s = story(ref).wait(days=8)  # the acknowledgement (due 14 June) has passed: provisional response open
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-06-28"}  # 10 WD after 14 June
    assert s.reasons("extend", ext("2027-07-01")) == []


# --- new_due_invalid ----------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
@pytest.mark.parametrize("new_due", [None, "next week", "2027-02-30", "21/06/2027", "2027-06-21", "2027-06-18"])
def test_new_due_must_be_a_date_later_than_the_current_due_date(ref: str, new_due: str | None) -> None:
    assert story(ref).ack().reasons("extend", ext(new_due)) == ["new_due_invalid"]


@pytest.mark.parametrize("ref", POLICIES)
def test_new_due_may_not_be_before_the_events_day(ref: str) -> None:
    s = story(ref).ack().wait(days=18)  # 25 June: the response (21 June) was breached
    assert s.case.breaches == ["stage_1_response"]
    assert s.reasons("extend", ext("2027-06-24")) == ["new_due_invalid"]  # after 21 June but in the past
    assert s.reasons("extend", ext("2027-06-25")) == []  # the event's own day is allowed


@pytest.mark.parametrize("ref", POLICIES)
def test_new_due_is_compared_with_the_latest_extension(ref: str) -> None:
    s = story(ref).ack().do("extend", ext("2027-06-30"))
    assert s.reasons("extend", ext("2027-06-30")) == ["new_due_invalid"]
    assert s.reasons("extend", ext("2027-07-01")) == []


@pytest.mark.parametrize("ref", POLICIES)
def test_new_due_at_stage_2_is_compared_with_the_stage_2_response(ref: str) -> None:
    s = stage_2(ref)
    assert s.reasons("extend", ext(S2_DUE[ref])) == ["new_due_invalid"]
    assert s.reasons("extend", ext("2027-07-06")) == []


# --- extension_reason_missing ---------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_extension_needs_a_reason(ref: str, reason: str | None) -> None:
    data = {k: v for k, v in ext("2027-06-30").items() if k != "reason"}
    if reason is not None:
        data["reason"] = reason
    assert story(ref).ack().reasons("extend", data) == ["extension_reason_missing"]


# --- extension_too_long ---------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_stage_1_cap_is_ten_working_days_except_at_livin(ref: str) -> None:
    s = story(ref).ack()
    assert s.reasons("extend", ext(S1_CAP_END, good_reason=False)) == []
    expected = [] if ref == "livin@1" else ["extension_too_long"]
    assert s.reasons("extend", ext(S1_BEYOND, good_reason=False)) == expected
    assert s.reasons("extend", ext(S1_BEYOND)) == []  # good reason
    assert s.reasons("extend", ext("2028-06-30", good_reason=False)) == expected


@pytest.mark.parametrize("ref", POLICIES)
def test_stage_2_cap(ref: str) -> None:
    s = stage_2(ref)
    if ref not in S2_CAP:
        assert s.reasons("extend", ext("2028-06-30", good_reason=False)) == []
        return
    end, beyond = S2_CAP[ref]
    assert s.reasons("extend", ext(end, good_reason=False)) == []
    assert s.reasons("extend", ext(beyond, good_reason=False)) == ["extension_too_long"]
    assert s.reasons("extend", ext(beyond)) == []


@pytest.mark.parametrize("ref", [r for r in POLICIES if r != "livin@1"])
def test_caps_are_cumulative_from_the_original_due_date(ref: str) -> None:
    s = story(ref).ack().do("extend", ext("2027-06-28", good_reason=False))
    assert s.reasons("extend", ext(S1_CAP_END, good_reason=False)) == []
    assert s.reasons("extend", ext(S1_BEYOND, good_reason=False)) == ["extension_too_long"]


@pytest.mark.parametrize("ref", sorted(FROM_ACK))
def test_a_late_acknowledgement_re_anchors_the_original_due_date(ref: str) -> None:
    # ack due 14 June passes; acknowledged Wed 16 June -> response 10 WD = 30 June; cap +10 WD = 14 July
    s = story(ref).wait(days=9).ack()
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-06-30"}
    assert s.reasons("extend", ext("2027-07-14", good_reason=False)) == []
    assert s.reasons("extend", ext("2027-07-15", good_reason=False)) == ["extension_too_long"]


# --- extension_needs_agreement ----------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_beyond_ten_working_days_b3living_needs_agreement_or_the_ombudsmans_details(ref: str) -> None:
    s = story(ref).ack()
    bare = ext(S1_BEYOND, customer_agreed=False, ombudsman_details_given=False)
    expected = ["extension_needs_agreement"] if ref in AGREEMENT else []
    if ref in DETAILS_ALWAYS:
        expected = ["ombudsman_details_missing"]
    assert s.reasons("extend", bare) == expected
    assert s.reasons("extend", ext(S1_CAP_END, customer_agreed=False, ombudsman_details_given=False)) == (
        ["ombudsman_details_missing"] if ref in DETAILS_ALWAYS else []
    )
    assert s.reasons("extend", ext(S1_BEYOND, ombudsman_details_given=False)) == (
        ["ombudsman_details_missing"] if ref in DETAILS_ALWAYS else []
    )
    assert s.reasons("extend", ext(S1_BEYOND, customer_agreed=False)) == []


@pytest.mark.parametrize("ref", sorted(AGREEMENT))
def test_agreement_is_needed_at_stage_2_too(ref: str) -> None:
    s = stage_2(ref)
    end, beyond = S2_CAP[ref]
    assert s.reasons("extend", ext(beyond, customer_agreed=False, ombudsman_details_given=False)) == [
        "extension_needs_agreement"
    ]
    assert s.reasons("extend", ext(end, customer_agreed=False, ombudsman_details_given=False)) == []


# --- ombudsman_details_missing ----------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_only_the_code_wants_the_ombudsmans_details_with_every_extension(ref: str) -> None:
    expected = ["ombudsman_details_missing"] if ref in DETAILS_ALWAYS else []
    assert story(ref).ack().reasons("extend", ext("2027-06-22", ombudsman_details_given=False)) == expected
    assert stage_2(ref).reasons("extend", ext("2027-07-06", ombudsman_details_given=False)) == expected


# --- all at once, and where extend is valid -----------------------------------------------------


def test_every_failing_extension_guard_is_reported_at_once() -> None:
    s = story("code_2024@1").ack()
    assert s.reasons("extend", {"new_due": "2027-09-01"}) == [
        "extension_reason_missing",
        "extension_too_long",
        "ombudsman_details_missing",
    ]
    s = story("b3living@2").ack()
    assert s.reasons("extend", {"new_due": "2027-09-01", "reason": " "}) == [
        "extension_needs_agreement",
        "extension_reason_missing",
        "extension_too_long",
    ]


@pytest.mark.parametrize("ref", POLICIES)
def test_extend_is_invalid_outside_the_two_investigations(ref: str) -> None:
    data = ext("2027-12-01")
    assert story(ref).ack().respond().reasons("extend", data) == ["invalid_in_state"]
    assert at_stage_2_requested(ref).reasons("extend", data) == ["invalid_in_state"]
    s = stage_2(ref).respond()
    assert s.case.state == "closed"
    assert s.reasons("extend", data) == ["invalid_in_state"]


@pytest.mark.parametrize("ref", [r for r in POLICIES if r in ("b3living@1", "brighter_places@1", "livin@1")])
def test_extend_is_invalid_at_stage_0(ref: str) -> None:
    assert story(ref, formal=False).reasons("extend", ext("2027-12-01")) == ["invalid_in_state"]
