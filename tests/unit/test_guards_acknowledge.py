"""The acknowledge guards under every policy (DOMAIN.md, Guards in detail).

Expected minimum roles are copied by hand from DOMAIN.md's policy sections, not read from the files.
"""

from __future__ import annotations

import pytest

from tests.unit.case_builder import POLICIES, STAGE_1_HANDLER, STAGE_2_HANDLER, at_stage_2_requested, story
from workflow.vocabulary import FLAGS, ROLES

# DOMAIN.md: stage 1 handler minimum, unflagged / flagged; stage 2 reviewer minimum.
S1_MIN = {"b3living@1": "manager"}
S1_FLAGGED_MIN = {"b3living@1": "senior_manager", "b3living@2": "senior_manager"}
S2_MIN = {
    "b3living@1": "senior_manager",
    "b3living@2": "senior_manager",
    "brighter_places@1": "director",
    "livin@1": "manager",
}


def _below(role: str, minimum: str | None) -> bool:
    return minimum is not None and ROLES.index(role) < ROLES.index(minimum)


# --- handler_is_subject ------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_the_subject_cannot_acknowledge_at_stage_1(ref: str) -> None:
    s = story(ref, subject_staff="  ann SMITH ")
    assert s.reasons("acknowledge", STAGE_1_HANDLER) == ["handler_is_subject"]
    assert s.reasons("acknowledge", {**STAGE_1_HANDLER, "handler": "Ann Smithers"}) == []


@pytest.mark.parametrize("ref", POLICIES)
def test_the_subject_cannot_review_at_stage_2(ref: str) -> None:
    s = at_stage_2_requested(ref, subject_staff="BOB JONES")
    assert s.reasons("acknowledge", STAGE_2_HANDLER) == ["handler_is_subject"]


# --- senior_handler_required -------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("ref", POLICIES)
def test_stage_1_role_minimum(ref: str, role: str) -> None:
    expected = ["senior_handler_required"] if _below(role, S1_MIN.get(ref)) else []
    assert story(ref).reasons("acknowledge", {**STAGE_1_HANDLER, "handler_role": role}) == expected


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("ref", POLICIES)
def test_a_flagged_case_raises_the_stage_1_minimum_where_the_policy_says(ref: str, flag: str) -> None:
    s = story(ref, flags=[flag])
    minimum = S1_FLAGGED_MIN.get(ref, S1_MIN.get(ref))
    for role in ROLES:
        expected = ["senior_handler_required"] if _below(role, minimum) else []
        assert s.reasons("acknowledge", {**STAGE_1_HANDLER, "handler_role": role}) == expected, role


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("ref", POLICIES)
def test_stage_2_role_minimum_ignores_the_flags(ref: str, role: str) -> None:
    s = at_stage_2_requested(ref, flags=["vulnerable"])
    expected = ["senior_handler_required"] if _below(role, S2_MIN.get(ref)) else []
    assert s.reasons("acknowledge", {**STAGE_2_HANDLER, "handler_role": role}) == expected


def test_a_later_stage_1_acknowledgement_is_held_to_the_same_minimum() -> None:
    s = story("b3living@1").ack(handler_role="manager")
    assert s.reasons("acknowledge", {**STAGE_1_HANDLER, "handler": "Cy", "handler_role": "officer"}) == [
        "senior_handler_required"
    ]


# --- stage_2_same_handler ----------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_the_stage_1_handler_cannot_review_stage_2(ref: str) -> None:
    s = at_stage_2_requested(ref)
    assert s.reasons("acknowledge", {**STAGE_2_HANDLER, "handler": " ann smith"}) == ["stage_2_same_handler"]


@pytest.mark.parametrize("ref", POLICIES)
def test_any_stage_1_handler_counts(ref: str) -> None:
    s = story(ref).ack().ack(handler="Cy Long", handler_department="Lettings").respond().escalate()
    assert s.reasons("acknowledge", {**STAGE_2_HANDLER, "handler": "cy long"}) == ["stage_2_same_handler"]
    assert s.reasons("acknowledge", STAGE_2_HANDLER) == []


# --- stage_2_same_department (livin only) ------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_the_reviewer_must_come_from_an_unrelated_service_area_only_at_livin(ref: str) -> None:
    s = at_stage_2_requested(ref, subject_department="Estates")
    refused = ["stage_2_same_department"] if ref == "livin@1" else []
    assert s.reasons("acknowledge", {**STAGE_2_HANDLER, "handler_department": " estates "}) == refused
    assert s.reasons("acknowledge", {**STAGE_2_HANDLER, "handler_department": "REPAIRS"}) == refused  # stage 1's
    no_department = {k: v for k, v in STAGE_2_HANDLER.items() if k != "handler_department"}
    assert s.reasons("acknowledge", no_department) == refused  # cannot show it is unrelated
    assert s.reasons("acknowledge", {**STAGE_2_HANDLER, "handler_department": "  "}) == refused
    assert s.reasons("acknowledge", STAGE_2_HANDLER) == []


def test_the_department_rule_does_not_apply_at_stage_1() -> None:
    s = story("livin@1", subject_department="Repairs")
    assert s.reasons("acknowledge", STAGE_1_HANDLER) == []


# --- definition_missing ------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_a_definition_is_needed_at_both_stages(ref: str) -> None:
    s = story(ref)
    for blank in ({}, {"complaint_definition": "   "}):
        data = {**{k: v for k, v in STAGE_1_HANDLER.items() if k != "complaint_definition"}, **blank}
        assert s.reasons("acknowledge", data) == ["definition_missing"]
    s = at_stage_2_requested(ref)
    data = {k: v for k, v in STAGE_2_HANDLER.items() if k != "complaint_definition"}
    assert s.reasons("acknowledge", data) == ["definition_missing"]


def test_every_failing_acknowledge_guard_is_reported_at_once() -> None:
    # the subject cannot also be the stage 1 handler, so the two "who" guards are shown on two reviewers
    s = at_stage_2_requested("livin@1", subject_staff="Dee Ray", subject_department="Finance")
    subject = {"handler": "dee ray", "handler_role": "officer", "handler_department": "finance"}
    assert s.reasons("acknowledge", subject) == sorted(
        ["handler_is_subject", "senior_handler_required", "stage_2_same_department", "definition_missing"]
    )
    stage_1 = {"handler": "ann smith", "handler_role": "officer"}
    assert s.reasons("acknowledge", stage_1) == sorted(
        ["stage_2_same_handler", "senior_handler_required", "stage_2_same_department", "definition_missing"]
    )
