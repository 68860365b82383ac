"""The delivery child's CPU priority: lowered by default on PostgreSQL only (a SQLite round holds the one
writer lock, and a preempted holder keeps every command waiting); COMPLAINTS_DELIVERY_NICE sets it."""

from __future__ import annotations

import pytest

from api.delivery_process import delivery_nice


def test_default_is_serve_priority_on_sqlite_and_lower_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPLAINTS_DELIVERY_NICE", raising=False)
    assert delivery_nice("sqlite:///complaints.db") == 0
    assert delivery_nice("postgresql://u@localhost/db") == 10


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("5", 5), ("40", 19), ("-3", 0), ("high", 0)])
def test_the_setting_is_kept_within_0_to_19(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    monkeypatch.setenv("COMPLAINTS_DELIVERY_NICE", raw)
    assert delivery_nice("sqlite:///complaints.db") == expected
