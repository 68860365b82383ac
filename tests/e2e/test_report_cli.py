"""`complaints policy lint` and `complaints report` as a landlord's CI and analyst run them (real subprocesses)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLAINTS = str(Path(sys.executable).with_name("complaints"))


def run(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{db}", "COMPLAINTS_LOG_LEVEL": "WARNING", **env}
    return subprocess.run([COMPLAINTS, *args], env=environ, capture_output=True, text=True, timeout=60)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "reports.db"


def test_lint_gates_a_policy_change_by_its_exit_code(db: Path) -> None:
    code = run(db, "policy", "lint", "code_2024")
    assert code.returncode == 0, code.stderr
    assert "code_2024@1 against code_2024@1: complies" in code.stdout
    livin = run(db, "policy", "lint", "livin", "--format", "json")
    assert livin.returncode == 1
    assert json.loads(livin.stdout)["does_not_comply"] == 10


def test_lint_all_policies_as_one_csv(db: Path) -> None:
    result = run(db, "policy", "lint", "all", "--format", "csv")
    assert result.returncode == 1
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][0] == "table" and sum(1 for r in rows if r[0] == "table") == 1
    assert len({r[0] for r in rows[1:]}) == 6  # one table title per shipped policy version


def test_reports_on_an_empty_store_and_bad_input(db: Path) -> None:
    tsm = run(db, "report", "tsm", "--year", "2025", "--homes", "1200", "--format", "json")
    assert tsm.returncode == 0, tsm.stderr
    assert json.loads(tsm.stdout)["CH01"]["stage_1"] == {"received": 0, "per_1000_homes": 0.0}
    from_env = run(db, "report", "tsm", "--year", "2025", COMPLAINTS_HOMES="800")
    assert from_env.returncode == 0 and "800" in from_env.stdout
    no_homes = run(db, "report", "tsm", "--year", "2025", COMPLAINTS_HOMES="")
    assert no_homes.returncode == 2 and no_homes.stderr.startswith("error: invalid_data:")
    kpi = run(db, "report", "kpi", "--month", "2025-05", "--format", "md")
    assert kpi.returncode == 0 and "### Complaints received, 2025-05" in kpi.stdout
    bad = run(db, "report", "kpi", "--month", "2025-5")
    assert bad.returncode == 2 and "invalid_data" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run(db, "policy", "lint", "nobody")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: unknown_policy:")
