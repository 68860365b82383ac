"""`complaints diagram` as an analyst runs it: a real subprocess on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLAINTS = str(Path(sys.executable).with_name("complaints"))
ROOT = Path(__file__).resolve().parents[2]


def run(tmp: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COMPLAINTS_DB_URL": f"sqlite:///{tmp / 'cli.db'}", "COMPLAINTS_LOG_LEVEL": "WARNING"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([COMPLAINTS, *args], env=env, capture_output=True, timeout=120, cwd=tmp)


def test_policy_diagram_in_every_format(tmp_path: Path) -> None:
    mmd = run(tmp_path, "diagram", "--policy", "livin", "--format", "mmd")
    assert mmd.returncode == 0 and mmd.stdout.startswith(b'---\ntitle: "livin@1')
    dot = run(tmp_path, "diagram", "--policy", "b3living@1", "--format", "dot")
    assert dot.stdout.startswith(b'digraph "b3living@1"')
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG")):
        out = tmp_path / f"code.{fmt}"
        done = run(tmp_path, "diagram", "--policy", "code_2024", "--format", fmt, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert out.read_bytes().startswith(magic)


def test_case_and_flow_diagrams(tmp_path: Path) -> None:
    data = json.dumps({"incident_date": "2026-11-01", "formal": True})
    opened = run(tmp_path, "case", "open", "--policy", "livin", "--data", data, "--json")
    case_id = json.loads(opened.stdout)["id"]
    case = run(tmp_path, "diagram", "--case", case_id, "--format", "dot")
    assert case.returncode == 0 and b'fillcolor="#ffd54f"' in case.stdout  # the current state
    flow = run(tmp_path, "diagram", "--flow", "--policy", "livin", "--since", "2000-01-01", "--format", "mmd")
    assert flow.returncode == 0 and b"receive x1" in flow.stdout


def test_regenerate_writes_what_is_committed(tmp_path: Path) -> None:
    done = run(tmp_path, "diagram", "--regenerate", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    for name in ("README.md", "livin-v1.mmd", "livin-v1.dot"):
        assert (tmp_path / "out" / name).read_bytes() == (ROOT / "diagrams" / name).read_bytes()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("diagram",), "invalid_arguments"),
        (("diagram", "--flow"), "invalid_arguments"),
        (("diagram", "--policy", "nope"), "unknown_policy"),
        (("diagram", "--case", "nope", "--format", "mmd"), "case_not_found"),
        (("diagram", "--flow", "--policy", "livin", "--until", "soon"), "invalid_period"),
    ],
)
def test_bad_input_is_one_line_with_a_code(tmp_path: Path, args: tuple[str, ...], code: str) -> None:
    done = run(tmp_path, *args)
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [done.stderr.decode().strip()]
    assert f"error: {code}:" in done.stderr.decode()


def test_without_graphviz_svg_says_how_to_install_it_and_mermaid_works(tmp_path: Path) -> None:
    no_dot = str(tmp_path)  # a PATH with no `dot` on it
    svg = run(tmp_path, "diagram", "--policy", "livin", "-o", str(tmp_path / "x.svg"), path=no_dot)
    assert svg.returncode == 2
    assert b"graphviz_missing" in svg.stderr and b"apt-get install graphviz" in svg.stderr
    assert not (tmp_path / "x.svg").exists()
    mmd = run(tmp_path, "diagram", "--policy", "livin", "--format", "mmd", path=no_dot)
    assert mmd.returncode == 0 and b"flowchart LR" in mmd.stdout
