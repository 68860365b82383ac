"""Progress output: a bar on a pseudo-terminal, nothing in ``--json`` output or when not a terminal."""

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
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    assert piped.returncode == 0 and "import:" not in piped.stderr and "would import" in piped.stdout
