"""Policies as data: the loader refuses what it does not understand, and every shipped file says what
DOMAIN.md's policy table says (the expected values below are copied by hand from DOMAIN.md, "Policies" and
"Clocks at a glance", not from the files).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from workflow.calendar import Duration
from workflow.catalog import Catalog, shipped
from workflow.errors import UnknownPolicy
from workflow.policy import POLICY_DIR, Policy, PolicyError, load_policy_file, parse_policy

WD = "working_days"
ALL_LETTER = ("decision", "reasons", "remedy", "outstanding_actions", "escalation_route", "ombudsman_info")
CODE_S1_LETTER = ("decision", "reasons", "remedy", "outstanding_actions", "escalation_route")
CODE_S2_LETTER = ("decision", "reasons", "remedy", "outstanding_actions", "ombudsman_info")
CODE_EXCLUSIONS = {"out_of_time", "legal_proceedings", "already_considered", "service_request"}
B3_EXCLUSIONS = {
    "service_request",
    "legal_proceedings",
    "insurance_claim",
    "unreasonable_behaviour_restriction",
    "out_of_time",
    "already_considered",
    "right_of_appeal",
    "no_authority",
    "anonymous",
    "compensation_only",
}
B3_GROUNDS = {
    "legal_proceedings",
    "insurance_claim",
    "compensation_only",
    "unreasonable_behaviour_restriction",
    "outside_our_control",
    "final_position_given",
    "out_of_time",
}
B3_FLAGS = {"high_profile", "health_and_safety", "complex", "persistent", "gross_misconduct", "vulnerable"}


def wd(n: int) -> Duration:
    return Duration(n, WD)


# policy ref -> DOMAIN.md's values. None = the rule does not exist ("—", "none").
EXPECTED: dict[str, dict[str, Any]] = {
    "code_2024@1": {
        "informal": None,
        "time_limit": (Duration(12, "months"), True),
        "s1": (wd(5), wd(10), "acknowledgement", wd(10), None),
        "s1_letter": CODE_S1_LETTER,
        "s1_ombudsman_details": True,
        "window": None,
        "late": False,
        "early": "none",
        "reasons_required": False,
        "s2": (wd(5), wd(20), "acknowledgement", wd(20), None),
        "s2_letter": CODE_S2_LETTER,
        "s2_ombudsman_details": True,
        "s2_min_role": None,
        "s1_min_role": None,
        "flagged": (None, set()),
        "unrelated": False,
        "agreement": (None, None),
        "exclusions": CODE_EXCLUSIONS,
        "grounds": {"out_of_time", "legal_proceedings", "already_considered"},
        "wait": None,
    },
    "b3living@2": {
        "informal": None,
        "time_limit": (Duration(6, "months"), False),
        "s1": (wd(5), wd(10), "logging", wd(10), None),
        "s1_letter": ALL_LETTER,
        "s1_ombudsman_details": False,
        "window": Duration(4, "weeks"),
        "late": True,
        "early": "after_original_response_date",
        "reasons_required": False,
        "s2": (wd(5), wd(20), "request", wd(10), None),
        "s2_letter": ALL_LETTER,
        "s2_ombudsman_details": False,
        "s2_min_role": "senior_manager",
        "s1_min_role": None,
        "flagged": ("senior_manager", B3_FLAGS),
        "unrelated": False,
        "agreement": (wd(10), True),
        "exclusions": B3_EXCLUSIONS,
        "grounds": B3_GROUNDS,
        "wait": None,
    },
    "b3living@1": {
        "informal": (wd(5), "record"),
        "time_limit": (Duration(6, "months"), False),
        "s1": (wd(5), wd(10), "acknowledgement", wd(10), None),
        "s1_letter": ALL_LETTER,
        "s1_ombudsman_details": False,
        "window": Duration(4, "weeks"),
        "late": True,
        "early": "after_original_response_date",
        "reasons_required": False,
        "s2": (wd(5), wd(20), "request", wd(10), None),
        "s2_letter": ALL_LETTER,
        "s2_ombudsman_details": False,
        "s2_min_role": "senior_manager",
        "s1_min_role": "manager",
        "flagged": ("senior_manager", B3_FLAGS),
        "unrelated": False,
        "agreement": (wd(10), True),
        "exclusions": B3_EXCLUSIONS,
        "grounds": B3_GROUNDS,
        "wait": (Duration(8, "weeks"), True),
    },
    "resolution_team@1": {
        "informal": None,
        "time_limit": (Duration(12, "months"), True),
        "s1": (wd(5), wd(10), "acknowledgement", wd(10), None),
        "s1_letter": CODE_S1_LETTER,
        "s1_ombudsman_details": False,
        "window": wd(15),
        "late": False,
        "early": "none",
        "reasons_required": True,
        "s2": (wd(5), wd(20), "acknowledgement", wd(20), None),
        "s2_letter": CODE_S2_LETTER,
        "s2_ombudsman_details": False,
        "s2_min_role": None,
        "s1_min_role": None,
        "flagged": (None, set()),
        "unrelated": False,
        "agreement": (None, None),
        "exclusions": CODE_EXCLUSIONS,
        "grounds": {"new_issue", "out_of_time", "legal_proceedings", "already_considered"},
        "wait": None,
    },
    "brighter_places@1": {
        "informal": (wd(5), "move_to_stage_1"),
        "time_limit": (Duration(6, "months"), False),
        "s1": (wd(5), wd(10), "logging", wd(10), None),
        "s1_letter": CODE_S1_LETTER,
        "s1_ombudsman_details": False,
        "window": wd(15),
        "late": False,
        "early": "none",
        "reasons_required": False,
        "s2": (wd(5), wd(20), "request", wd(10), None),
        "s2_letter": CODE_S2_LETTER,
        "s2_ombudsman_details": False,
        "s2_min_role": "director",
        "s1_min_role": None,
        "flagged": (None, set()),
        "unrelated": False,
        "agreement": (None, None),
        "exclusions": {
            "service_request",
            "anti_social_behaviour",
            "already_considered",
            "legal_proceedings",
            "not_our_service",
            "unreasonable_behaviour_restriction",
            "insurance_claim",
            "compensation_only",
            "policy_content",
            "out_of_time",
        },
        "grounds": set(),
        "wait": None,
    },
    "livin@1": {
        "informal": (wd(4), "record"),
        "time_limit": (Duration(6, "months"), True),
        "s1": (wd(2), wd(10), "logging", None, wd(10)),
        "s1_letter": CODE_S1_LETTER,
        "s1_ombudsman_details": False,
        "window": Duration(14, "calendar_days"),
        "late": False,
        "early": "none",
        "reasons_required": True,
        "s2": (wd(10), wd(10), "acknowledgement", None, wd(10)),
        "s2_letter": CODE_S2_LETTER,
        "s2_ombudsman_details": False,
        "s2_min_role": "manager",
        "s1_min_role": None,
        "flagged": (None, set()),
        "unrelated": True,
        "agreement": (None, None),
        "exclusions": {
            "service_request",
            "right_of_appeal",
            "out_of_time",
            "anti_social_behaviour",
            "legal_proceedings",
            "anonymous",
        },
        "grounds": {"disagreement_only"},
        "wait": (Duration(8, "weeks"), True),
    },
}


def test_the_catalog_ships_exactly_the_six_policy_versions() -> None:
    assert sorted(p.ref for p in shipped().all()) == sorted(EXPECTED)
    assert shipped().resolve("b3living").version == 2  # the newest is the default
    assert shipped().resolve("b3living@1").version == 1


@pytest.mark.parametrize("ref", sorted(EXPECTED))
def test_each_shipped_policy_matches_domain_md(ref: str) -> None:
    p: Policy = shipped().resolve(ref)
    want = EXPECTED[ref]
    informal = None if p.informal is None else (p.informal.response, p.informal.on_breach)
    assert informal == want["informal"]
    assert (p.time_limit.length, p.time_limit.from_awareness) == want["time_limit"]
    for number in (1, 2):
        rules = p.stage(number)
        got = (rules.acknowledgement, rules.response, rules.response_from, rules.extension_cap, rules.update_interval)
        assert got == want[f"s{number}"], f"stage {number}"
        assert set(rules.letter) == set(want[f"s{number}_letter"]), f"stage {number} letter"
        assert rules.ombudsman_details_with_extension is want[f"s{number}_ombudsman_details"]
        assert rules.agreement_beyond == want["agreement"][0]
        if want["agreement"][1] is not None:
            assert rules.ombudsman_details_instead_of_agreement is want["agreement"][1]
    assert p.stage_1.handler_min_role == want["s1_min_role"]
    assert p.stage_2.handler_min_role == want["s2_min_role"]
    assert (p.stage_1.flagged_handler_min_role, set(p.stage_1.handler_flags)) == want["flagged"]
    assert p.stage_2.unrelated_department is want["unrelated"]
    assert p.escalation.window == want["window"]
    assert p.escalation.late_allowed is want["late"]
    assert p.escalation.early == want["early"]
    assert p.escalation.reasons_required is want["reasons_required"]
    assert set(p.exclusions) == want["exclusions"]
    assert set(p.refusal_grounds) == want["grounds"]
    wait = None if p.ombudsman.wait is None else (p.ombudsman.wait, p.ombudsman.designated_person_bypass)
    assert wait == want["wait"]
    assert p.closure_days == ()  # "No shipped policy has closure days of its own"


@pytest.mark.parametrize("path", sorted(POLICY_DIR.glob("*/*.toml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_rule_in_a_shipped_file_carries_a_comment(path: Path) -> None:
    """Each policy file quotes its source; a rule with no comment above it has lost its reason."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_0-9]+ = ", line) and line.split(" = ")[0] not in ("id", "version", "name", "source"):
            above = lines[number - 1].strip() if number else ""
            assert above.startswith("#") or above.startswith("[") or above == "", f"{path}:{number + 1}: {line}"
    assert sum(1 for line in lines if line.lstrip().startswith("#")) >= 10


# --- the loader's errors name the file and the key ------------------------------------


def _write(tmp_path: Path, text: str, policy_id: str = "livin", version: int = 1) -> Path:
    folder = tmp_path / policy_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _livin_text() -> str:
    return (POLICY_DIR / "livin" / "1.toml").read_text(encoding="utf-8")


def _load_error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    message = str(caught.value)
    assert str(path) in message, message
    return message


def test_a_copy_of_a_shipped_file_loads(tmp_path: Path) -> None:
    assert load_policy_file(_write(tmp_path, _livin_text())).stage_1.acknowledgement == wd(2)


def test_an_unknown_key_in_a_stage_is_named(tmp_path: Path) -> None:
    text = _livin_text().replace('acknowledgement = "2 working days"', 'acknowledgment = "2 working days"')
    message = _load_error(tmp_path, text)
    assert "unknown key stage_1.acknowledgment" in message


def test_an_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    message = _load_error(tmp_path, 'exclusion = ["anonymous"]\n' + _livin_text())
    assert "unknown key exclusion" in message


def test_an_unknown_table_is_named(tmp_path: Path) -> None:
    message = _load_error(tmp_path, _livin_text() + '\n[stage_3]\nacknowledgement = "5 working days"\n')
    assert "unknown key stage_3" in message


def test_a_bad_duration_names_the_key(tmp_path: Path) -> None:
    text = _livin_text().replace('response = "4 working days"', 'response = "four working days"')
    message = _load_error(tmp_path, text)
    assert "informal.response" in message
    assert "four working days" in message


def test_a_duration_that_is_a_number_names_the_key(tmp_path: Path) -> None:
    text = _livin_text().replace('window = "14 calendar days"', "window = 14")
    assert "escalation.window" in _load_error(tmp_path, text)


def test_a_missing_rule_in_a_stage_is_named(tmp_path: Path) -> None:
    text = re.sub(r"(?m)^letter = .*\n", "", _livin_text(), count=1)
    message = _load_error(tmp_path, text)
    assert "stage_1.letter" in message and "missing rule" in message


def test_a_misspelt_table_is_named(tmp_path: Path) -> None:
    text = _livin_text().replace("[time_limit]", "[time_limits]")
    assert "unknown key time_limits" in _load_error(tmp_path, text)


@pytest.mark.parametrize("table", ["time_limit", "stage_1", "stage_2", "escalation", "ombudsman"])
def test_a_missing_table_is_named(table: str) -> None:
    data = tomllib.loads(_livin_text())
    del data[table]
    with pytest.raises(PolicyError, match=rf"^livin/1\.toml: {table}: missing rule$"):
        parse_policy(data, "livin/1.toml")


def test_a_missing_top_level_rule_is_named(tmp_path: Path) -> None:
    text = re.sub(r"(?ms)^exclusions = \[.*?\]\n", "", _livin_text(), count=1)
    message = _load_error(tmp_path, text)
    assert "exclusions" in message and "missing rule" in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('response_from = "logging"', 'response_from = "receipt"', "stage_1.response_from"),
        ('on_breach = "record"', 'on_breach = "ignore"', "informal.on_breach"),
        ('handler_min_role = "manager"', 'handler_min_role = "boss"', "stage_2.handler_min_role"),
        ('early = "none"', 'early = "always"', "escalation.early"),
        ("late_allowed = false", 'late_allowed = "no"', "escalation.late_allowed"),
        ('"disagreement_only",', '"disagreeing",', "refusal_grounds"),
        ('"anonymous",\n]', '"anon",\n]', "exclusions"),
        ("version = 1", 'version = "1"', "version"),
    ],
)
def test_a_value_outside_the_vocabulary_names_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = _livin_text()
    assert old in text
    assert key in _load_error(tmp_path, text.replace(old, new, 1))


def test_a_file_whose_place_disagrees_with_its_id_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _livin_text(), policy_id="livin", version=2)
    with pytest.raises(PolicyError, match="does not match"):
        load_policy_file(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    assert "not valid TOML" in _load_error(tmp_path, _livin_text() + "\nthis is not toml\n")


def test_parse_policy_names_the_path_it_is_given() -> None:
    data = tomllib.loads(_livin_text())
    data["stage_2"]["update_every"] = "10 working days"
    with pytest.raises(PolicyError, match=r"^somewhere\.toml: unknown key stage_2\.update_every$"):
        parse_policy(data, "somewhere.toml")


# --- the catalog ------------------------------------------------------------------------


def test_a_policy_defined_twice_is_refused() -> None:
    livin = shipped().resolve("livin")
    with pytest.raises(PolicyError, match="defined twice"):
        Catalog([livin, livin])


@pytest.mark.parametrize("ref", ["nobody", "livin@2", "livin@x"])
def test_unknown_policies_and_versions_are_typed_errors(ref: str) -> None:
    with pytest.raises(UnknownPolicy):
        shipped().resolve(ref)


def test_an_extra_folder_adds_a_version(tmp_path: Path) -> None:
    text = _livin_text().replace("version = 1", "version = 2", 1)
    _write(tmp_path, text, version=2)
    catalog = Catalog.from_dirs(POLICY_DIR, tmp_path)
    assert catalog.versions("livin") == [1, 2]
    assert catalog.resolve("livin").version == 2


def test_a_policy_reference_with_a_non_ascii_digit_is_an_unknown_policy() -> None:
    from workflow.catalog import shipped
    from workflow.errors import UnknownPolicy

    with pytest.raises(UnknownPolicy):
        shipped().resolve("livin@²")
