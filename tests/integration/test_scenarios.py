"""The scenario runner as an operator uses it: ``complaints scenario run`` in a subprocess.

Runs the shared examples and this project's scenarios (tests/scenarios, each worked out by hand), checks
that they cover every policy version, every event and every reason code, and that a malformed file is a
FAIL naming the file, never a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from workflow.catalog import shipped
from workflow.vocabulary import EVENTS, REASON_CODES

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "scenarios"
OURS = ROOT / "tests" / "scenarios"

GOOD = """\
name = "livin: a complaint is received"
policy = "livin"

[[step]]
at = "2027-06-07T09:00:00Z"
event = "receive"
data = { incident_date = "2027-06-01", formal = true }
[step.expect]
# ack 2 WD after Mon 7 June: 8, 9; response 10 WD: 8-11 (4), 14-18 (9), 21
deadlines = { stage_1_acknowledgement = "2027-06-09", stage_1_response = "2027-06-21" }
"""


def complaints(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("complaints")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def _scenario_dirs() -> list[str]:
    dirs = [str(OURS)]
    if SHARED.is_dir():
        dirs.insert(0, "../shared/scenarios")
    return dirs


def _our_files() -> list[Path]:
    return sorted(OURS.glob("*.toml"))


def test_every_scenario_passes_through_the_cli() -> None:
    result = complaints("scenario", "run", *_scenario_dirs())
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-3000:]
    expected = len(_our_files()) + (len(list(SHARED.glob("*.toml"))) if SHARED.is_dir() else 0)
    failures = [line for line in lines if line.startswith("FAIL")]
    assert failures == []
    assert lines[-1] == f"{expected} passed, 0 failed"
    assert result.returncode == 0
    assert "Traceback" not in result.stderr


# --- what the scenarios cover --------------------------------------------------------------


def _loaded() -> list[dict]:
    return [tomllib.loads(path.read_text(encoding="utf-8")) for path in _our_files()]


def test_there_are_at_least_thirty_hand_worked_scenarios_each_saying_how() -> None:
    files = _our_files()
    assert len(files) >= 30
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "by hand" in text.lower() or "# " in text.split("[[step]]")[0], f"{path.name}: say how"


def test_the_scenarios_cover_every_policy_version() -> None:
    covered = set()
    for raw in _loaded():
        policy = shipped().resolve(raw["policy"] + (f"@{raw['policy_version']}" if "policy_version" in raw else ""))
        covered.add(policy.ref)
    assert covered == {p.ref for p in shipped().all()}


def test_the_scenarios_cover_every_event() -> None:
    events = {step.get("event") for raw in _loaded() for step in raw["step"]} - {None}
    assert set(EVENTS) <= events, sorted(set(EVENTS) - events)


def test_the_scenarios_cover_every_reason_code() -> None:
    reasons = {code for raw in _loaded() for step in raw["step"] for code in step.get("expect", {}).get("refused", [])}
    assert set(REASON_CODES) <= reasons, sorted(set(REASON_CODES) - reasons)
    assert reasons <= set(REASON_CODES), sorted(reasons - set(REASON_CODES))


# --- bad files and wrong expectations ---------------------------------------------------------


MALFORMED = {
    "bad_toml.toml": (GOOD.replace("formal = true }", "formal = true"), "not valid TOML"),
    "bad_at.toml": (GOOD.replace('at = "2027-06-07T09:00:00Z"', 'at = "yesterday"'), "not an ISO 8601 instant"),
    "naive_at.toml": (GOOD.replace('at = "2027-06-07T09:00:00Z"', 'at = "2027-06-07T09:00:00"'), "no UTC offset"),
    "no_name.toml": (GOOD.replace('name = "livin: a complaint is received"\n', ""), "'name' must be a string"),
    "backwards.toml": (GOOD + '\n[[step]]\nat = "2027-06-01T09:00:00Z"\n', "the clock moves backwards"),
    "unknown_top.toml": ("owner = 'me'\n" + GOOD, "unknown key(s) owner"),
    "unknown_expect.toml": (GOOD.replace("[step.expect]", "[step.expectation]"), "unknown key(s) expectation"),
    "no_steps.toml": ('name = "x"\npolicy = "livin"\n', "no [[step]] given"),
    "refused_text.toml": (GOOD.replace("[step.expect]", '[step.expect]\nrefused = "x"'), "expect.refused must be"),
    "event_number.toml": (GOOD.replace('event = "receive"', "event = 5"), "event must be a string"),
}


def test_a_malformed_file_is_a_failure_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "a_good.toml").write_text(GOOD, encoding="utf-8")
    for name, (text, _) in MALFORMED.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00name")
    result = complaints("scenario", "run", str(tmp_path))
    assert result.stdout.strip(), result.stderr[-3000:]
    lines = {line.split(":")[0]: line for line in result.stdout.strip().splitlines()[:-1]}
    assert lines.pop("PASS livin") == "PASS livin: a complaint is received"
    for name, (_, problem) in MALFORMED.items():
        line = lines.pop(f"FAIL {name}")
        assert line.startswith(f"FAIL {name}: malformed {tmp_path / name}: ") and problem in line, line
    assert lines.pop("FAIL binary.toml").startswith(f"FAIL binary.toml: malformed {tmp_path / 'binary.toml'}: ")
    assert lines == {}
    assert result.stdout.strip().splitlines()[-1] == f"1 passed, {len(MALFORMED) + 1} failed"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_a_wrong_expectation_fails_with_the_step_and_both_values(tmp_path: Path) -> None:
    wrong = GOOD.replace('stage_1_response = "2027-06-21"', 'stage_1_response = "2027-06-22"')
    (tmp_path / "wrong.toml").write_text(wrong, encoding="utf-8")
    result = complaints("scenario", "run", str(tmp_path))
    first, last = result.stdout.strip().splitlines()
    assert first.startswith("FAIL livin: a complaint is received: step 1: deadlines: expected ")
    assert "'2027-06-22'" in first and "'2027-06-21'" in first
    assert last == "0 passed, 1 failed"
    assert result.returncode == 1


def test_an_unexpected_refusal_and_an_unknown_policy_are_failures(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD.replace('incident_date = "2027-06-01"', 'incident_date = "June"'))
    (tmp_path / "b.toml").write_text(GOOD.replace('policy = "livin"', 'policy = "nobody"'))
    result = complaints("scenario", "run", str(tmp_path))
    lines = result.stdout.strip().splitlines()
    assert "step 1: the event was refused: ['invalid_data']" in lines[0]
    assert lines[1].startswith(f"FAIL livin: a complaint is received: malformed {tmp_path / 'b.toml'}: ")
    assert "nobody" in lines[1]
    assert lines[-1] == "0 passed, 2 failed"
    assert "Traceback" not in result.stderr


def test_an_unknown_policy_or_version_is_malformed_whatever_the_steps(tmp_path: Path) -> None:
    clock_only = '[[step]]\nat = "2027-06-01T09:00:00Z"\n'
    (tmp_path / "a_policy.toml").write_text(f'name = "a"\npolicy = "nobody"\n{clock_only}', encoding="utf-8")
    (tmp_path / "b_version.toml").write_text(
        f'name = "b"\npolicy = "livin"\npolicy_version = 99\n{clock_only}', encoding="utf-8"
    )
    no_receive = clock_only + 'event = "withdraw"\n'
    (tmp_path / "c_event.toml").write_text(f'name = "c"\npolicy = "nobody"\n{no_receive}', encoding="utf-8")
    result = complaints("scenario", "run", str(tmp_path))
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"FAIL a: malformed {tmp_path / 'a_policy.toml'}: ") and "nobody" in lines[0]
    assert lines[1].startswith(f"FAIL b: malformed {tmp_path / 'b_version.toml'}: ") and "99" in lines[1]
    assert lines[2].startswith(f"FAIL c: malformed {tmp_path / 'c_event.toml'}: ")
    assert lines[-1] == "0 passed, 3 failed"
    assert result.returncode == 1


def test_json_output_is_one_object_per_scenario_then_the_totals(tmp_path: Path) -> None:
    (tmp_path / "a_good.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b_bad.toml").write_text("not = [toml", encoding="utf-8")
    result = complaints("scenario", "run", "--json", str(tmp_path))
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert rows[0] == {
        "path": str(tmp_path / "a_good.toml"),
        "name": "livin: a complaint is received",
        "passed": True,
        "failure": None,
    }
    assert rows[1]["passed"] is False and rows[1]["path"] == str(tmp_path / "b_bad.toml")
    assert "b_bad.toml" in rows[1]["failure"]
    assert rows[-1] == {"passed": 1, "failed": 1}
    assert result.returncode == 1
