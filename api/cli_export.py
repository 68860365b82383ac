"""``complaints export``: the event log for process-mining tools (docs/process-mining.md)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    return None
