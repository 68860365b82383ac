"""Fixtures of the e2e tests that start ``complaints serve`` themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.serve_process import Served


@pytest.fixture
def served() -> Iterator[list[Served]]:
    """The servers a test started (it appends each): all killed after it, passed or not."""
    started: list[Served] = []
    yield started
    for process in started:
        process.kill()
