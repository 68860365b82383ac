"""The one progress helper (api/progress.py): when it draws, when it writes plain lines, when it is quiet.

Under pytest stdout is not a terminal, so every Progress here is off a terminal; the bar itself is
tested on a pseudo-terminal (tests/e2e/test_progress.py).
"""

from __future__ import annotations

import io

from api.progress import Progress


def test_off_a_terminal_a_plain_command_writes_nothing() -> None:
    stream = io.StringIO()
    with Progress("verify", total=3, unit="cases", stream=stream, interval=0) as progress:
        progress.advance(2, events=10)
        progress.advance(1, events=5)
    assert stream.getvalue() == ""
    assert progress.done == 3 and progress.counts == {"events": 15}


def test_off_a_terminal_import_writes_plain_periodic_lines() -> None:
    stream = io.StringIO()
    with Progress("import", total=100, unit="rows", stream=stream, interval=0, plain=True) as progress:
        progress.advance(40, cases=6)
        progress.advance(60, cases=9)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("import: 40/100 rows, 6 cases, ") and "rows/s" in lines[0] and "s left" in lines[0]
    assert lines[1].startswith("import: 100/100 rows, 15 cases, ")


def test_quiet_writes_nothing_even_for_import() -> None:
    stream = io.StringIO()
    with Progress("import", total=10, stream=stream, interval=0, plain=True, quiet=True) as progress:
        progress.advance(10)
    assert stream.getvalue() == ""


def test_steps_set_the_total_as_it_becomes_known() -> None:
    stream = io.StringIO()
    with Progress("db upgrade", unit="migrations", stream=stream, interval=0, plain=True) as progress:
        progress.step(0, 5)
        progress.step(3, 5)
        progress.step(5, 5)
    assert progress.total == 5 and progress.done == 5
    assert stream.getvalue().splitlines()[-1].startswith("db upgrade: 5/5 migrations")
