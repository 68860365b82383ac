"""What data each event may carry, and the `invalid_data` check.

Back-office systems send free JSON; a misspelt field or a string where a
boolean belongs must be refused, naming the field, before any guard looks at
it (DOMAIN.md, Rules for every event). Values the policy judges (a decline
reason, a ``new_due`` that is not a date) pass through here as strings and
get their own reason codes from the guards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from workflow.vocabulary import DEADLINE_KINDS, FLAGS, LETTER_FIELDS, REQUESTERS, ROLES

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Check = Callable[[Any], str | None]  # returns a problem, or None when the value fits


def parse_iso_date(value: Any) -> date | None:
    """A strict YYYY-MM-DD date, or None."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {type(value).__name__}"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def _iso_date(value: Any) -> str | None:
    return None if parse_iso_date(value) else f"expected an ISO date YYYY-MM-DD, got {value!r}"


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in choices:
            return None
        return f"{value!r} is not one of {', '.join(choices)}"

    return check


def _flag_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"expected a list of flags, got {type(value).__name__}"
    for item in value:
        if not isinstance(item, str) or item not in FLAGS:
            return f"{item!r} is not one of {', '.join(FLAGS)}"
    return None


_SUMMARY = {"summary": _text}

SCHEMAS: dict[str, dict[str, Check]] = {
    "receive": {
        "channel": _text,
        "incident_date": _iso_date,
        "aware_date": _iso_date,
        "formal": _boolean,
        "anonymous": _boolean,
        "representative": _boolean,
        "authority_given": _boolean,
        "subject_staff": _text,
        "subject_department": _text,
        "flags": _flag_list,
    },
    "log_formal": {"requested_by": _one_of(REQUESTERS)},
    "resolve_informally": _SUMMARY,
    "acknowledge": {
        "handler": _text,
        "handler_role": _one_of(ROLES),
        "handler_department": _text,
        "complaint_definition": _text,
        "outcomes_sought": _text,
    },
    "decline": {"reason": _text, "explanation": _text},
    "add_issue": {"description": _text},
    "extend": {
        "new_due": _text,
        "reason": _text,
        "customer_agreed": _boolean,
        "ombudsman_details_given": _boolean,
        "good_reason": _boolean,
    },
    "respond": dict.fromkeys(LETTER_FIELDS, _text),
    "request_escalation": {"requested_by": _one_of(REQUESTERS), "reasons": _text, "late_reason": _text},
    "refuse_escalation": {"reason": _text, "explanation": _text},
    "close": _SUMMARY,
    "withdraw": _SUMMARY,
    "record_update": _SUMMARY,
    "refer_to_ombudsman": {"via_designated_person": _boolean},
    "deadline_passed": {"deadline": _one_of(DEADLINE_KINDS), "due": _iso_date},
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "receive": ("incident_date",),
    "acknowledge": ("handler", "handler_role"),
    "deadline_passed": ("deadline", "due"),
}
NON_BLANK: dict[str, tuple[str, ...]] = {"acknowledge": ("handler",)}


def data_problems(event: str, data: Any) -> dict[str, str]:
    """Field -> problem for every field that does not fit ``event``; empty when all fit."""
    if not isinstance(data, dict):
        return {"data": f"expected an object, got {type(data).__name__}"}
    schema = SCHEMAS[event]
    problems: dict[str, str] = {}
    for name, value in data.items():
        check = schema.get(name)
        if check is None:
            problems[str(name)] = f"unknown field for {event}"
        elif value is not None and (problem := check(value)):
            problems[name] = problem
    for name in REQUIRED.get(event, ()):
        if data.get(name) is None:
            problems[name] = "required"
    for name in NON_BLANK.get(event, ()):
        value = data.get(name)
        if isinstance(value, str) and not value.strip():
            problems[name] = "must not be blank"
    return problems


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """Drop nulls, which mean the same as a missing field (``data`` itself when it has none: nothing
    downstream changes event data, and replay cleans every event of a store)."""
    if None not in data.values():
        return data
    return {k: v for k, v in data.items() if v is not None}
