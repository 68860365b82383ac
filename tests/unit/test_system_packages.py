"""`make test` sets up a fresh Debian machine itself: one script, used by the Makefile and so by CI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-packages"


def test_a_missing_package_is_named_with_the_one_command_to_run(tmp_path: Path) -> None:
    # an empty PATH: `dot` cannot be found, so graphviz is missing whatever this machine has
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT), "--check"], env={"PATH": str(tmp_path)}, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "graphviz" in result.stderr
    assert "apt-get install -y -qq --no-install-recommends" in result.stderr


def test_make_test_runs_the_set_up_step_and_ci_has_no_copy_of_it() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test: system\b", makefile, re.MULTILINE)
    assert "scripts/system-packages" in makefile
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "apt-get" not in ci
    assert "make test" in ci


def test_the_set_up_step_installs_the_browser_the_console_tests_drive() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    assert "[ -x /usr/bin/chromium ] || need+=(chromium)" in script
