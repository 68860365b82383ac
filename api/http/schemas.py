"""Request and response bodies of the HTTP API, in DOMAIN.md's names (they are the OpenAPI document).

Event data stays a free JSON object here: the domain validates it and names
the offending field (``invalid_data``), one rule for HTTP, CLI and scenarios.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from workflow.vocabulary import CLIENT_EVENTS

# Instants outside these years are refused as invalid data (time-zone arithmetic near year 1 or 9999 overflows).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# A policy reference: id, or id@version.
POLICY_REF = r"^[A-Za-z0-9_.-]{1,64}(@[0-9]{1,9})?$"


def check_instant(value: datetime | None) -> datetime | None:
    if value is not None and not EARLIEST <= value < LATEST:
        raise ValueError("must be an instant between the years 1900 and 2200")
    return value


def instant_text(value: Any) -> Any:
    """An instant is ISO 8601 text: pydantic would read a number as Unix time (-1 is 1969), never wanted here."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError(f"must be an ISO 8601 instant with a UTC offset (a string), not {type(value).__name__}")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenCase(Strict):
    """Open a case: the ``receive`` event under a policy."""

    policy: str = Field(pattern=POLICY_REF, description="policy id, or id@version (newest by default)")
    data: dict[str, Any] = Field(default_factory=dict, description="the receive event's data (DOMAIN.md, Events)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened, with a UTC offset (default now)")

    _text = field_validator("occurred_at", mode="before")(instant_text)
    _instant = field_validator("occurred_at")(check_instant)


class PostEvent(Strict):
    """Fire one event on a case."""

    name: str = Field(min_length=1, max_length=40, description="one of: " + ", ".join(CLIENT_EVENTS[1:]))
    data: dict[str, Any] = Field(default_factory=dict, description="the event's data (DOMAIN.md, Events)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened, with a UTC offset (default now)")

    _text = field_validator("occurred_at", mode="before")(instant_text)
    _instant = field_validator("occurred_at")(check_instant)


class ErrorOut(BaseModel):
    """Every error: a stable code, every reason code, a human explanation, and what is at fault (field -> why)."""

    error: str
    reasons: list[str]
    detail: str
    details: dict[str, Any] = Field(default_factory=dict)


class DeadlineOut(BaseModel):
    kind: str
    due: str = Field(description="the last local (Europe/London) date on which it is met")
    breach_at: str = Field(description="the instant it passes")
    status: str
    stage: int
    window: bool = Field(description="a window given to the customer, not an obligation")


class CaseOut(BaseModel):
    id: str
    policy: str
    policy_version: int
    state: str
    closure_reason: str | None
    version: int = Field(description="events applied; send it back as If-Match")
    opened_at: str | None
    deadlines: list[DeadlineOut] = Field(description="open deadlines")
    breaches: list[str] = Field(description="every breached deadline kind, as often as breached")
    received: dict[str, Any]


class CaseSummary(BaseModel):
    id: str
    policy: str
    policy_version: int
    state: str
    closure_reason: str | None
    version: int
    opened_at: str
    updated_at: str
    breaches: int = Field(description="how many deadlines were breached")
    external_ref: str | None = Field(None, description="the reference an imported case had in its old system")


class CasePageOut(BaseModel):
    items: list[CaseSummary]
    total: int = Field(description="how many cases match the filters")
    limit: int
    offset: int
    next_offset: int | None = Field(description="the offset of the next page, null on the last")


class EventOut(BaseModel):
    case_id: str
    seq: int
    name: str
    data: dict[str, Any]
    occurred_at: str
    recorded_at: str
    actor: str
    state_before: str
    state_after: str


class AllowedOut(BaseModel):
    event: str
    allowed: bool
    reasons: list[str]
    details: dict[str, Any]


class PolicySummary(BaseModel):
    id: str
    version: int
    name: str
    effective_from: str | None
    newest: bool


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._@:-]*$")
    role: str = Field(description="automation, analyst, auditor or admin")


class TokenOut(BaseModel):
    name: str
    role: str
    token: str = Field(description="shown this once; only its hash is stored")
