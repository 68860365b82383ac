"""The Code self-assessment of every shipped policy, checked by hand against DOMAIN.md and CODE_2024.md."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workflow.calendar import Duration
from workflow.catalog import shipped
from workflow.lint import CHECKS, extension_within_code, lint, no_longer, response_within_code

CODE = shipped().get("code_2024")

# provision -> why the policy does not comply (DOMAIN.md "Policies" and "Clocks at a glance").
DOES_NOT_COMPLY = {
    "code_2024@1": {},
    "b3living@2": {
        "time_limit": "6 months from the incident (Code 2.3: 12 months, issue or awareness)",
        "refusal_grounds": "outside_our_control and final_position_given are not section 2 exclusions",
        "stage_1_extension_ombudsman_details": "details only when agreement beyond +10 WD fails",
        "stage_2_extension_ombudsman_details": "the same at stage 2",
    },
    "b3living@1": {
        "time_limit": "6 months from the incident",
        "two_stages": "informal stage 0, 5 WD",
        "refusal_grounds": "outside_our_control, final_position_given",
        "stage_1_extension_ombudsman_details": "details only when agreement fails",
        "stage_2_extension_ombudsman_details": "the same at stage 2",
        "ombudsman_access": "8 weeks, or a designated person",
    },
    "brighter_places@1": {
        "time_limit": "6 months from the incident",
        "two_stages": "informal stage 0, 5 WD",
        "stage_1_extension_ombudsman_details": "no rule",
        "stage_2_extension_ombudsman_details": "no rule",
    },
    "livin@1": {
        "time_limit": "6 months (from awareness, but 6 not 12)",
        "two_stages": "informal stage 0, 4 WD",
        "refusal_grounds": "disagreement_only",
        "stage_1_extension_cap": "no cap",
        "stage_1_extension_ombudsman_details": "no rule",
        "stage_2_acknowledgement": "10 WD acceptance",
        "escalation_reasons": "reasons required (6.12)",
        "stage_2_extension_cap": "no cap",
        "stage_2_extension_ombudsman_details": "no rule",
        "ombudsman_access": "8 weeks after stage 2 closes",
    },
    "resolution_team@1": {
        "stage_1_extension_ombudsman_details": "no rule",
        "escalation_reasons": "reasons required (6.12)",
        "stage_2_extension_ombudsman_details": "no rule",
    },
}


def test_every_shipped_policy_version_is_assessed() -> None:
    assert sorted(p.ref for p in shipped().all()) == sorted(DOES_NOT_COMPLY)


@pytest.mark.parametrize("ref", sorted(DOES_NOT_COMPLY))
def test_each_shipped_policy_fails_exactly_the_provisions_found_by_hand(ref: str) -> None:
    result = lint(shipped().resolve(ref), CODE)
    assert {f.provision for f in result.failures} == set(DOES_NOT_COMPLY[ref])
    assert result.complies is (not DOES_NOT_COMPLY[ref])
    assert len(result.findings) == len(CHECKS)


def test_a_finding_names_both_values_and_the_paragraph() -> None:
    findings = {f.provision: f for f in lint(shipped().resolve("livin"), CODE).findings}
    ack = findings["stage_2_acknowledgement"]
    assert (ack.para, ack.verdict) == ("6.11", "does not comply")
    assert ack.policy_value == "10 working days from the request"
    assert ack.code_value == "5 working days from the request"
    assert findings["stage_1_response"].complies  # 10 WD from logging ends before 10 WD from the acknowledgement
    assert findings["stage_1_acknowledgement"].complies  # 2 WD is quicker than 5


def test_a_response_clock_longer_than_the_codes_does_not_comply() -> None:
    slow = replace(CODE, stage_1=replace(CODE.stage_1, response=Duration(15, "working_days")))
    assert not response_within_code(slow, CODE, 1)
    assert "stage_1_response" in {f.provision for f in lint(slow, CODE).failures}


def test_a_response_counted_from_a_later_anchor_does_not_comply() -> None:
    code_from_logging = replace(CODE, stage_2=replace(CODE.stage_2, response_from="request"))
    assert not response_within_code(CODE, code_from_logging, 2)
    assert response_within_code(code_from_logging, CODE, 2)


def test_extension_caps_compare_with_the_codes() -> None:
    livin = shipped().resolve("livin")
    assert not extension_within_code(livin, CODE, 1)
    b3 = shipped().resolve("b3living")
    assert extension_within_code(b3, CODE, 2)  # +10 WD is inside the Code's +20 WD


def test_durations_of_different_units_compare_in_approximate_days() -> None:
    assert no_longer(Duration(2, "weeks"), Duration(10, "working_days"))
    assert not no_longer(Duration(1, "months"), Duration(10, "working_days"))
    assert no_longer(Duration(12, "months"), Duration(12, "months"))
