"""The benchmarks still run: each on a tiny store, so a loader that no longer fits the schema fails here.

Only that they run and print their ratio; how fast is what the benchmarks themselves report, never a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[2]

SMALL = {
    "reports": ["--cases", "300", "--no-postgres"],
    "work": ["--cases", "300", "--no-postgres", "--repeat", "1"],
    "replay": ["--cases", "200"],
    "apply": ["--cases", "100", "--memory-cases", "100"],
    "feed": ["--rows", "3000", "--repeat", "1"],
    "console": ["--cases", "300", "--no-postgres", "--runs", "1"],
    "timers": ["--backlog", "300", "--pending", "100", "--seconds", "3", "--sample", "100"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_benchmark_runs_on_a_tiny_store(name: str, tmp_path: Path) -> None:
    done = _run_bench(name, SMALL[name], tmp_path)
    assert "ratio" in done.stdout.lower(), done.stdout[-2000:]


def test_the_webhooks_part_runs_on_postgresql(pg_server: PgServer, tmp_path: Path) -> None:
    """``bench/apply.py --webhooks --backend postgres``: a fresh database per turn and mode, delivered for real."""
    args = ["--webhooks", "--backend", "postgres", "--pg-url", pg_server.admin_url, "--cases", "20", "--turns", "1"]
    done = _run_bench("apply", args, tmp_path)
    assert '"backend": "postgres"' in done.stdout and "ratio" in done.stdout, done.stdout[-2000:]
    assert done.stdout.count(" 240 delivered;") == 3, done.stdout[-2000:]  # each mode: 20 cases x 6 events x 2


def _run_bench(name: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``bench/NAME.py ARGS`` as a subprocess, its temporary files under ``tmp_path``; it must exit 0."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "COMPLAINTS_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, f"bench/{name}.py", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done
