"""Structured logs: one JSON line per event applied or refused, per deadline fired."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from workflow.audit.history import EventRecord
from workflow.vocabulary import DEADLINE_PASSED, WINDOWS

_configured = False


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    global _configured
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str = "complaints") -> Any:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)


def log_committed(log: Any, records: list[EventRecord], stamp: Any) -> None:
    """After commit, one line per event written: nothing is logged as applied that a rollback took back."""
    for record in records:
        if record.name != DEADLINE_PASSED:
            log.info(
                "event_applied",
                case_id=record.case_id,
                event_name=record.name,
                state_before=record.state_before,
                state_after=record.state_after,
                reasons=[],
                actor=record.actor,
            )
            continue
        kind = record.data["deadline"]
        log.info(
            "deadline_fired",
            case_id=record.case_id,
            kind=kind,
            due=record.data["due"],
            breach_at=record.occurred_at.isoformat(),
            lateness_s=round((stamp - record.occurred_at).total_seconds(), 3),
            breach=kind not in WINDOWS,
            state_before=record.state_before,
            state_after=record.state_after,
        )
