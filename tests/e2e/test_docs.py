"""Docs tests: every command shown in README.md and docs/*.md runs, and prints what the docs say.

Convention (also in docs/design.md, "Docs tests"):

- A fenced block tagged ``console`` is run. Its lines starting with ``$ `` are commands (a line ending
  in a backslash continues on the next; a here-document runs to its delimiter). Every other line is
  output expected from the command above, matched loosely: each non-blank shown line must be one of
  the lines the command printed (stdout and stderr, blanks at the ends ignored), in the order shown,
  where ``...`` stands for any text. A command with no output shown only has to exit 0.
- All the console blocks of one file run in order as one ``bash -euo pipefail`` script, so a shell
  variable set in one block (``CASE=$(complaints case open ... --json | jq -r .id)``) is there in the
  blocks after it. A command that is meant to fail is written ``cmd || echo "exit $?"``.
- The script runs in a fresh temporary directory holding links to the repository's top-level files,
  so ``docs/examples/...`` reads as from the repository root while ``-o case.svg`` writes into the
  temporary directory; ``complaints`` (this venv's) is first on PATH; COMPLAINTS_DB_URL is a new
  SQLite file there, and no other COMPLAINTS_* setting is inherited.
- A file with ``<!-- docs-test: serve -->`` in its first ten lines also gets ``complaints serve`` on a
  free port of 127.0.0.1 (same database), its address in ``$BASE``.
- Blocks that must not run (``make test`` itself, benchmarks, PostgreSQL, synopses) are fenced
  ``text``. A block tagged ``sh``/``bash``/``shell`` or untagged fails tests/unit/test_docs_references.py,
  and so does a command line outside any fence.

All files run at once (one script each), so the whole check takes about as long as the longest file.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs_blocks import ROOT, Command, doc_files, file_commands, missing_output, wants_server
from tests.e2e.serve_process import Served, start_serve

pytestmark = pytest.mark.e2e
VENV_BIN = Path(sys.executable).parent
TIMEOUT = 240  # seconds for one file's script; a file should take well under 30
SERVE_WAIT = 120  # seconds for the files' servers, started side by side: on a loaded 2-core machine each takes ~30
SKIP_LINKS = {".git", ".venv", "build"}


@dataclass
class Run:
    """One file's script, started: its commands, its directory, its process and server."""

    path: Path
    commands: list[Command]
    workdir: Path
    process: subprocess.Popen[str] | None
    served: Served | None

    def out(self, index: int) -> str:
        path = self.workdir / ".docs-out" / str(index)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def script(commands: list[Command], out_dir: Path) -> str:
    """One bash script: each command in a group of its own whose output goes to its own file."""
    lines = ["set -euo pipefail"]
    for index, command in enumerate(commands):
        out = shlex.quote(str(out_dir / str(index)))
        lines.append(f"echo {index} > {shlex.quote(str(out_dir / 'current'))}")
        lines.append(f"{{ {command.text}\n}} > {out} 2>&1 < /dev/null")
    lines.append(f"echo done > {shlex.quote(str(out_dir / 'current'))}")
    return "\n".join(lines) + "\n"


def workdir_for(base: Path) -> Path:
    base.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in SKIP_LINKS and not entry.name.endswith((".db", ".db-wal", ".db-shm", ".db-writer")):
            (base / entry.name).symlink_to(entry)
    (base / ".docs-out").mkdir()
    return base


def environment(workdir: Path, served: Served | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["COMPLAINTS_DB_URL"] = f"sqlite:///{workdir / 'complaints.db'}"
    env.pop("BASE", None)
    if served is not None:
        env["BASE"] = served.url
    return env


def _serve_for(workdir: Path) -> Served:
    """``complaints serve`` on the file's own database, with no setting of the developer's shell."""
    db_url = f"sqlite:///{workdir / 'complaints.db'}"
    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith("COMPLAINTS_")]:
            env.delenv(key)
        return start_serve(db_url, workdir / ".docs-out" / "serve.log", wait=SERVE_WAIT)


def _start(path: Path, workdir: Path, served: Served | None) -> Run:
    cmds = file_commands(path)
    process = subprocess.Popen(
        ["bash", "-c", script(cmds, workdir / ".docs-out")],
        cwd=workdir,
        env=environment(workdir, served),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Run(path, cmds, workdir, process, served)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every file's script started at once; the servers some files ask for start side by side, not in turn."""
    started: dict[str, Run] = {}
    waiting: dict[Path, Path] = {}
    try:
        plain: dict[Path, Path] = {}
        for path in doc_files():
            workdir = workdir_for(tmp_path_factory.mktemp("docs") / path.stem)
            if not file_commands(path):
                started[path.name] = Run(path, [], workdir, None, None)
            else:
                (waiting if wants_server(path) else plain)[path] = workdir
        with ThreadPoolExecutor(max_workers=max(1, len(waiting))) as pool:
            futures = {path: pool.submit(_serve_for, workdir) for path, workdir in waiting.items()}
        for path, workdir in plain.items():  # after the servers are up, so their start-up has the cores to itself
            started[path.name] = _start(path, workdir, None)
        failed = [f.exception() for f in futures.values() if f.exception() is not None]
        if failed:  # stop the servers that did start before reporting the one that did not
            for future in futures.values():
                if future.exception() is None:
                    future.result().stop()
            raise failed[0]  # type: ignore[misc]
        for path, future in futures.items():
            started[path.name] = _start(path, waiting[path], future.result())
        yield started
    finally:
        for run in started.values():
            if run.process is not None:
                if run.process.poll() is None:
                    run.process.kill()
                    run.process.wait(timeout=10)
                if run.process.stdout is not None:
                    run.process.stdout.close()  # a run the tests never read (a server failed) leaks no pipe
            if run.served is not None:
                run.served.stop()


@pytest.mark.parametrize("name", [p.name for p in doc_files()])
def test_every_command_shown_runs_and_prints_what_is_shown(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    if run.process is None:
        return  # nothing to run in this file
    try:
        rest, _ = run.process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        run.process.kill()
        rest, _ = run.process.communicate()
    current = (run.workdir / ".docs-out" / "current").read_text(encoding="utf-8").strip()
    if current != "done":
        failed = run.commands[int(current)]
        server_log = f"\n--- server log:\n{run.served.log()[-3000:]}" if run.served else ""
        pytest.fail(
            f"{failed.where}: `{failed.text}` failed (exit {run.process.returncode}):\n"
            f"{run.out(int(current))}{rest}{server_log}",
            pytrace=False,
        )
    for index, command in enumerate(run.commands):
        missing = missing_output(command.expected, run.out(index))
        assert missing is None, (
            f"{command.where}: `{command.text}` did not print a line like {missing.strip()!r}; it printed:\n"
            f"{run.out(index)}"
        )
