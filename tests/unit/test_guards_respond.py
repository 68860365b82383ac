"""letter_incomplete under every policy and stage: the letter fields DOMAIN.md lists for each
("letters as code_2024": stage 1 asks for the escalation route, stage 2 for the Ombudsman's details;
b3living asks for all six at both stages, 3.2.11).
"""

from __future__ import annotations

import pytest

from tests.unit.case_builder import LETTER, POLICIES, Story, at_stage_2_requested, story
from workflow.engine import decide
from workflow.vocabulary import LETTER_FIELDS

CODE_S1 = {"decision", "reasons", "remedy", "outstanding_actions", "escalation_route"}
CODE_S2 = {"decision", "reasons", "remedy", "outstanding_actions", "ombudsman_info"}
REQUIRED = {ref: (CODE_S1, CODE_S2) for ref in POLICIES} | {
    "b3living@1": (set(LETTER_FIELDS), set(LETTER_FIELDS)),
    "b3living@2": (set(LETTER_FIELDS), set(LETTER_FIELDS)),
}


def _at(ref: str, stage: int) -> Story:
    return story(ref).ack() if stage == 1 else at_stage_2_requested(ref).accept()


@pytest.mark.parametrize("stage", [1, 2])
@pytest.mark.parametrize("ref", POLICIES)
def test_each_required_letter_field_must_be_present_and_not_blank(ref: str, stage: int) -> None:
    s = _at(ref, stage)
    required = REQUIRED[ref][stage - 1]
    for name in LETTER_FIELDS:
        expected = ["letter_incomplete"] if name in required else []
        without = {k: v for k, v in LETTER.items() if k != name}
        assert s.reasons("respond", without) == expected, f"{name} missing"
        assert s.reasons("respond", {**LETTER, name: "  "}) == expected, f"{name} blank"


@pytest.mark.parametrize("stage", [1, 2])
@pytest.mark.parametrize("ref", POLICIES)
def test_none_is_an_answer(ref: str, stage: int) -> None:
    s = _at(ref, stage)
    assert s.reasons("respond", dict.fromkeys(LETTER_FIELDS, "none")) == []


def test_the_refusal_names_every_missing_field() -> None:
    s = story("b3living@2").ack()
    decision = s.reasons("respond", {"decision": "upheld", "reasons": "late"})
    assert decision == ["letter_incomplete"]
    details = decide(s.case, s.policy, "respond", {"decision": "upheld", "remedy": " "}, s.now, s.now).details
    assert details["letter_incomplete"] == (
        "missing: reasons, remedy, outstanding_actions, escalation_route, ombudsman_info"
    )


@pytest.mark.parametrize("ref", POLICIES)
def test_respond_is_invalid_where_there_is_nothing_to_answer(ref: str) -> None:
    assert story(ref).ack().respond().reasons("respond", LETTER) == ["invalid_in_state"]
    assert at_stage_2_requested(ref).reasons("respond", LETTER) == ["invalid_in_state"]
