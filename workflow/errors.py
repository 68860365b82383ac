"""Typed errors carrying DOMAIN.md's reason codes.

Every entry point maps these in one place (HTTP status, CLI exit code), so a
caller always learns a stable code, never a traceback.
"""

from __future__ import annotations


class ComplaintsError(Exception):
    """Base: a stable ``code`` and a human ``detail``."""

    code = "error"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code

    @property
    def reasons(self) -> list[str]:
        return [self.code]


class EventRefused(ComplaintsError):
    """The policy (or the data, or the clock) refuses an event: every reason at once."""

    code = "event_refused"

    def __init__(self, reasons: list[str], details: dict[str, str] | None = None) -> None:
        self.reason_codes = list(reasons)
        self.details = dict(details or {})
        text = ", ".join(self.reason_codes)
        extra = "; ".join(f"{k}: {v}" for k, v in self.details.items())
        super().__init__(f"refused: {text}" + (f" ({extra})" if extra else ""))

    @property
    def reasons(self) -> list[str]:
        return list(self.reason_codes)

    @property
    def is_invalid_data(self) -> bool:
        return "invalid_data" in self.reason_codes


class UnknownEvent(ComplaintsError):
    code = "unknown_event"


class UnknownPolicy(ComplaintsError):
    code = "unknown_policy"


class CaseNotFound(ComplaintsError):
    code = "case_not_found"


class VersionConflict(ComplaintsError):
    """A stale write: someone else changed the case first. Never merged."""

    code = "version_conflict"
