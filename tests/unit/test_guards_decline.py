"""decline and refuse_escalation under every policy: exclusions, the time limit, refusal grounds.

The expected exclusion and ground lists are DOMAIN.md's, copied by hand into tests/unit/test_policies.py.
Receipt is Monday 7 June 2027 (tests/unit/case_builder.py); the time-limit boundaries below are worked
out from it by hand.
"""

from __future__ import annotations

import pytest

from tests.unit.case_builder import POLICIES, Story, at_stage_2_requested, story
from tests.unit.test_policies import EXPECTED
from workflow.vocabulary import EXCLUSIONS, REFUSAL_GROUNDS

# DOMAIN.md: time limit months, and whether it counts from awareness.
LIMITS = {
    "code_2024@1": (12, True),
    "b3living@2": (6, False),
    "b3living@1": (6, False),
    "resolution_team@1": (12, True),
    "brighter_places@1": (6, False),
    "livin@1": (6, True),
}
CONDITIONAL = {"out_of_time", "anonymous", "no_authority"}


@pytest.mark.parametrize("ref", POLICIES)
def test_a_reason_that_is_not_this_policys_exclusion_is_the_only_reason(ref: str) -> None:
    own = EXPECTED[ref]["exclusions"]
    s = story(ref)
    for reason in [*EXCLUSIONS, "new_issue", "typo", "", "Service_Request", " out of time "]:
        if reason in own:
            continue
        assert s.reasons("decline", {"reason": reason}) == ["not_an_exclusion"], reason


@pytest.mark.parametrize("ref", POLICIES)
def test_the_policys_unconditional_exclusions_decline(ref: str) -> None:
    s = story(ref)
    for reason in sorted(EXPECTED[ref]["exclusions"] - CONDITIONAL):
        assert s.reasons("decline", {"reason": reason, "explanation": "why"}) == [], reason


@pytest.mark.parametrize("ref", POLICIES)
def test_a_missing_reason_is_not_an_exclusion(ref: str) -> None:
    assert story(ref).reasons("decline", {}) == ["not_an_exclusion"]


# --- the time limit ---------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_out_of_time_the_day_after_the_limit_ends(ref: str) -> None:
    months, _ = LIMITS[ref]
    # received 7 June 2027: in time when the limit ends on or after 7 June 2027
    last_in_time = "2026-12-07" if months == 6 else "2026-06-07"
    first_out = "2026-12-06" if months == 6 else "2026-06-06"
    assert story(ref, incident_date=last_in_time).reasons("decline", {"reason": "out_of_time"}) == [
        "out_of_time_not_met"
    ]
    assert story(ref, incident_date=first_out).reasons("decline", {"reason": "out_of_time"}) == []


@pytest.mark.parametrize("ref", POLICIES)
def test_awareness_moves_the_reference_date_only_where_the_policy_counts_from_it(ref: str) -> None:
    _, from_awareness = LIMITS[ref]
    s = story(ref, incident_date="2025-01-01", aware_date="2027-05-01")
    assert s.reasons("decline", {"reason": "out_of_time"}) == (["out_of_time_not_met"] if from_awareness else [])


@pytest.mark.parametrize("ref", POLICIES)
def test_an_awareness_date_before_the_incident_does_not_move_it_back(ref: str) -> None:
    s = story(ref, incident_date="2027-05-01", aware_date="2025-01-01")
    assert s.reasons("decline", {"reason": "out_of_time"}) == ["out_of_time_not_met"]


def test_the_limit_is_measured_on_the_local_date_of_a_back_dated_receive() -> None:
    # received (back-dated) on 6 June 2027: six months from 2026-12-06 ends that very day -> in time
    s = Story("livin@1")
    s.do("receive", {"incident_date": "2026-12-06", "formal": True}, occurred_at=s.now.replace(day=6))
    assert s.reasons("decline", {"reason": "out_of_time"}) == ["out_of_time_not_met"]


def test_a_month_end_incident_uses_the_shorter_months_last_day() -> None:
    # 2026-12-31 + 6 months = 2027-06-30 (June has 30 days): received 7 June, in time
    assert story("b3living@2", incident_date="2026-12-31").reasons("decline", {"reason": "out_of_time"}) == [
        "out_of_time_not_met"
    ]


# --- anonymous and no_authority ---------------------------------------------------------


@pytest.mark.parametrize("ref", [r for r in POLICIES if "anonymous" in EXPECTED[r]["exclusions"]])
def test_anonymous_declines_only_a_case_received_as_anonymous(ref: str) -> None:
    assert story(ref).reasons("decline", {"reason": "anonymous"}) == ["exclusion_not_met"]
    assert story(ref, anonymous=False).reasons("decline", {"reason": "anonymous"}) == ["exclusion_not_met"]
    assert story(ref, anonymous=True).reasons("decline", {"reason": "anonymous"}) == []


@pytest.mark.parametrize("ref", [r for r in POLICIES if "no_authority" in EXPECTED[r]["exclusions"]])
def test_no_authority_declines_only_a_representative_without_authority(ref: str) -> None:
    assert story(ref).reasons("decline", {"reason": "no_authority"}) == ["exclusion_not_met"]
    with_authority = story(ref, representative=True, authority_given=True)
    assert with_authority.reasons("decline", {"reason": "no_authority"}) == ["exclusion_not_met"]
    assert story(ref, representative=True).reasons("decline", {"reason": "no_authority"}) == []


# --- where decline is valid -------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_decline_is_valid_only_before_the_stage_1_response(ref: str) -> None:
    data = {"reason": "service_request"}
    extended = story(ref).ack().do("extend", {"new_due": "2027-07-05", "reason": "r", "ombudsman_details_given": True})
    assert extended.case.state == "stage_1_extended"
    assert extended.reasons("decline", data) == []
    responded = story(ref).ack().respond()
    assert responded.reasons("decline", data) == ["invalid_in_state"]
    assert at_stage_2_requested(ref).reasons("decline", data) == ["invalid_in_state"]


@pytest.mark.parametrize("ref", [r for r in POLICIES if EXPECTED[r]["informal"] is not None])
def test_an_informal_complaint_can_be_declined(ref: str) -> None:
    s = story(ref, formal=False)
    assert s.case.state == "stage_0"
    s.do("decline", {"reason": "service_request"})
    assert (s.case.state, s.case.closure_reason, s.case.open_deadlines()) == ("closed", "not_accepted", [])


# --- refuse_escalation ------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_only_the_policys_own_refusal_grounds_refuse_an_escalation(ref: str) -> None:
    own = EXPECTED[ref]["grounds"]
    s = at_stage_2_requested(ref)
    for reason in [*REFUSAL_GROUNDS, "typo", ""]:
        expected = [] if reason in own else ["not_a_refusal_ground"]
        assert s.reasons("refuse_escalation", {"reason": reason}) == expected, reason


@pytest.mark.parametrize("ref", POLICIES)
def test_refuse_escalation_is_valid_only_while_stage_2_is_requested(ref: str) -> None:
    assert story(ref).reasons("refuse_escalation", {"reason": "out_of_time"}) == ["invalid_in_state"]
    s = at_stage_2_requested(ref).accept()
    assert s.reasons("refuse_escalation", {"reason": "out_of_time"}) == ["invalid_in_state"]
