"""Progress of long commands (import, export, verify, report, db upgrade, bench loading): the one helper.

tqdm, not rich: it is one small pure-Python package with no dependencies of
its own, writes to stderr (stdout stays the command's answer, so ``--json`` and
pipes are untouched), and already computes rate and time left; rich would
bring a whole rendering toolkit for one bar. On a terminal the bar redraws in
place; when stderr is not a terminal (CI, a log file) a plain line is written
every ``interval`` seconds, so a short command prints nothing and a long one
shows it is alive; under ``--json`` nothing is written at all.
"""

from __future__ import annotations

import shutil
import sys
import time
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Counts done of ``total`` (None when unknown), plus named side counts (e.g. cases)."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "rows",
        quiet: bool = False,
        stream: TextIO | None = None,
        interval: float = 10.0,
    ) -> None:
        self.label, self.total, self.unit, self.interval = label, total, unit, interval
        self.stream = stream or sys.stderr
        self.done = 0
        self.counts: dict[str, int] = {}
        self.started = self._last = time.monotonic()
        self.quiet = quiet
        self.bar: tqdm[Any] | None = None
        if not quiet and _is_terminal(self.stream):
            size = shutil.get_terminal_size((100, 24))  # a terminal that says 0 x 0 (a bare pty) gets 100 x 24
            self.bar = tqdm(
                total=total,
                desc=label,
                unit=f" {unit}",
                file=self.stream,
                ncols=size.columns or 100,
                nrows=size.lines or 24,
            )

    def advance(self, n: int = 1, **counts: int) -> None:
        self.done += n
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        if self.quiet:
            return
        if self.bar is not None:
            if counts:
                self.bar.set_postfix({k: f"{v:,}" for k, v in self.counts.items()}, refresh=False)
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        """The plain line: done of total, side counts, rate and time left."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        of = f"/{self.total:,}" if self.total else ""
        parts = [f"{self.label}: {self.done:,}{of} {self.unit}"]
        parts += [f"{v:,} {k}" for k, v in self.counts.items()]
        parts.append(f"{rate:,.0f} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"about {max(self.total - self.done, 0) / rate:,.0f} s left")
        return ", ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
