"""refer_to_ombudsman under every policy: procedure_not_exhausted and ombudsman_wait.

DOMAIN.md: the Ombudsman at once after a final response, a refusal or a decline, except b3living
version 1 and livin, which wait 8 weeks after the final response or a refusal unless the customer goes
through a designated person. Stories close on Monday 7 June 2027; 8 weeks on is Monday 2 August, so the
wait passes at 23:00 UTC on 2 August (BST).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.case_builder import POLICIES, Story, at_stage_2_requested, story
from tests.unit.test_policies import EXPECTED

WAITS = {"b3living@1", "livin@1"}
INFORMAL = [r for r in POLICIES if EXPECTED[r]["informal"] is not None]
WITH_GROUNDS = [r for r in POLICIES if EXPECTED[r]["grounds"]]
WAIT_PASSES = datetime(2027, 8, 2, 23, 0, tzinfo=UTC)


def final(ref: str) -> Story:
    return at_stage_2_requested(ref).accept().respond()


def refused(ref: str) -> Story:
    ground = sorted(EXPECTED[ref]["grounds"])[0]
    return at_stage_2_requested(ref).do("refuse_escalation", {"reason": ground})


# --- procedure_not_exhausted ---------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_a_case_closed_at_stage_1_or_withdrawn_has_not_exhausted_the_procedure(ref: str) -> None:
    closed = story(ref).ack().respond().do("close", {"summary": "satisfied"})
    assert closed.reasons("refer_to_ombudsman", {"via_designated_person": True}) == ["procedure_not_exhausted"]
    withdrawn = story(ref).do("withdraw", {})
    assert withdrawn.reasons("refer_to_ombudsman", {}) == ["procedure_not_exhausted"]


@pytest.mark.parametrize("ref", INFORMAL)
def test_a_case_resolved_informally_has_not_exhausted_the_procedure(ref: str) -> None:
    s = story(ref, formal=False).do("resolve_informally", {"summary": "fixed"})
    assert s.case.closure_reason == "resolved_informally"
    assert s.reasons("refer_to_ombudsman", {}) == ["procedure_not_exhausted"]


@pytest.mark.parametrize("ref", POLICIES)
def test_a_decline_goes_to_the_ombudsman_at_once(ref: str) -> None:
    s = story(ref).do("decline", {"reason": "service_request"})
    assert s.case.open_deadlines_map() == {}
    assert s.reasons("refer_to_ombudsman", {}) == []


# --- ombudsman_wait ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_after_a_final_response_only_the_waiting_policies_wait(ref: str) -> None:
    s = final(ref)
    assert s.case.closure_reason == "final_response"
    if ref not in WAITS:
        assert s.case.open_deadlines_map() == {}
        assert s.reasons("refer_to_ombudsman", {}) == []
        return
    assert s.case.open_deadlines_map() == {"ombudsman_wait": "2027-08-02"}
    assert s.reasons("refer_to_ombudsman", {}) == ["ombudsman_wait"]
    assert s.reasons("refer_to_ombudsman", {"via_designated_person": False}) == ["ombudsman_wait"]
    assert s.reasons("refer_to_ombudsman", {"via_designated_person": True}) == []


@pytest.mark.parametrize("ref", WITH_GROUNDS)
def test_after_a_refusal_only_the_waiting_policies_wait(ref: str) -> None:
    s = refused(ref)
    assert s.case.closure_reason == "escalation_refused"
    expected = ["ombudsman_wait"] if ref in WAITS else []
    assert s.reasons("refer_to_ombudsman", {}) == expected


@pytest.mark.parametrize("ref", sorted(WAITS))
def test_the_wait_passes_at_local_midnight_and_is_not_a_breach(ref: str) -> None:
    s = final(ref).until(datetime(2027, 8, 2, 22, 59, 59, tzinfo=UTC))
    assert s.reasons("refer_to_ombudsman", {}) == ["ombudsman_wait"]
    s.until(WAIT_PASSES)
    assert (s.case.open_deadlines_map(), s.case.breaches) == ({}, [])
    assert s.reasons("refer_to_ombudsman", {}) == []


@pytest.mark.parametrize("ref", sorted(WAITS))
def test_referral_via_a_designated_person_cancels_the_wait_and_keeps_the_closure_reason(ref: str) -> None:
    s = final(ref).do("refer_to_ombudsman", {"via_designated_person": True})
    assert (s.case.state, s.case.closure_reason, s.case.open_deadlines_map()) == (
        "ombudsman_referred",
        "final_response",
        {},
    )
    assert [d.status for d in s.case.deadlines if d.kind == "ombudsman_wait"] == ["cancelled"]


@pytest.mark.parametrize("ref", POLICIES)
def test_refer_is_valid_only_from_closed(ref: str) -> None:
    assert story(ref).reasons("refer_to_ombudsman", {}) == ["invalid_in_state"]
    assert at_stage_2_requested(ref).reasons("refer_to_ombudsman", {}) == ["invalid_in_state"]
    s = final(ref).do("refer_to_ombudsman", {"via_designated_person": True})
    assert s.reasons("refer_to_ombudsman", {}) == ["invalid_in_state"]
