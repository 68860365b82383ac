"""Progress output: a bar on a pseudo-terminal, nothing in ``--json`` output or when stdout is not a terminal.

Every long command: import, export, verify, report, db upgrade (issue 14, part 3).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "legacy-complaints.csv"
pytestmark = pytest.mark.e2e


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run ``complaints ARGS`` with stdout and stderr on a pseudo-terminal; everything it wrote there."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env,
        cwd=ROOT,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{tmp_path}/store.db", "PYTHONPATH": str(ROOT)}


def test_import_and_export_show_progress_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    out = _on_a_terminal(["import", str(EXAMPLE)], env)
    assert "import:" in out and "rows" in out and "cases=" in out  # the bar: rows, cases, rate
    assert "imported " in out
    out = _on_a_terminal(["export", "--format", "xes", "-o", str(tmp_path / "log.xes")], env)
    assert "export:" in out and "events" in out


def test_no_progress_in_json_output_nor_off_a_terminal(env: dict[str, str]) -> None:
    out = _on_a_terminal(["import", str(EXAMPLE), "--dry-run", "--json"], env)
    assert "import:" not in out
    assert json.loads(out)["dry_run"] is True
    piped = subprocess.run(
        [sys.executable, "-m", "api.cli", "import", str(EXAMPLE), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert piped.returncode == 0 and "import:" not in piped.stderr and "would import" in piped.stdout


BLOCK_TQDM = """
import sys
class NoTqdm:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tqdm":
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoTqdm())
sys.argv = ["complaints", *sys.argv[1:]]
from api.cli import main
sys.exit(main())
"""


def test_commands_that_draw_no_bar_never_import_tqdm(tmp_path: Path) -> None:
    """Only a terminal's bar needs tqdm: scenario runs, piped imports and exports start without it."""
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{tmp_path}/store.db", "COMPLAINTS_LOG_LEVEL": "WARNING"}
    scenarios = ROOT.parent / "shared" / "scenarios"
    for args in (["scenario", "run", str(scenarios)], ["import", str(EXAMPLE), "--dry-run"]):
        done = subprocess.run(
            [sys.executable, "-c", BLOCK_TQDM, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
        )
        assert "tqdm" not in done.stderr, done.stderr[-2000:]
        assert done.returncode == 0, done.stderr[-2000:]


def _piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_db_upgrade_verify_and_reports_show_progress_on_a_terminal(env: dict[str, str]) -> None:
    out = _on_a_terminal(["db", "upgrade"], env)
    assert "db upgrade:" in out and "migrations" in out and "up to date" in out
    assert _piped(["import", str(EXAMPLE)], env).returncode == 0
    out = _on_a_terminal(["verify", "--jobs", "1"], env)
    assert "verify:" in out and "cases" in out and "events=" in out  # cases of all, events as a side count
    assert "all hold" in out
    out = _on_a_terminal(["report", "tsm", "--year", "2025", "--homes", "1000"], env)
    assert "report tsm:" in out and "queries" in out and "CH01" in out
    out = _on_a_terminal(["report", "kpi", "--month", "2025-11"], env)
    assert "report kpi:" in out


def test_no_progress_for_verify_and_reports_in_json_nor_when_piped(env: dict[str, str]) -> None:
    assert _piped(["import", str(EXAMPLE)], env).returncode == 0
    out = _on_a_terminal(["verify", "--jobs", "1", "--json"], env)
    assert "verify:" not in out and json.loads(out)["ok"] is True
    out = _on_a_terminal(["report", "tsm", "--year", "2025", "--homes", "1000", "--format", "json"], env)
    assert "report tsm:" not in out and json.loads(out)["report"] == "tsm"
    for args in (["verify", "--jobs", "1"], ["report", "tsm", "--year", "2025", "--homes", "1000"], ["db", "upgrade"]):
        piped = _piped(args, env)
        assert piped.returncode == 0, piped.stderr
        assert piped.stderr == "", (args, piped.stderr)
