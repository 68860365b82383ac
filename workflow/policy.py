"""Policies as data: the dataclasses one machine interprets, and their TOML loader.

A policy file is the landlord's published procedure turned into values; the
machine has no per-landlord code. The loader refuses anything it does not
understand (an unknown key, a bad duration, a missing rule) and names the file
and the key, because a silently ignored typo in a policy would change how
real complaints are handled.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from workflow.calendar import Duration, DurationError, WorkingCalendar
from workflow.vocabulary import (
    EXCLUSIONS,
    FLAGS,
    LETTER_FIELDS,
    REFUSAL_GROUNDS,
    ROLES,
)

POLICY_DIR = Path(__file__).parent / "policies"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class InformalStage:
    response: Duration
    on_breach: str  # "record" | "move_to_stage_1"


@dataclass(frozen=True)
class TimeLimit:
    length: Duration
    from_awareness: bool


@dataclass(frozen=True)
class StageRules:
    acknowledgement: Duration
    response: Duration
    response_from: str  # stage 1: logging | acknowledgement; stage 2: request | acknowledgement
    letter: tuple[str, ...]
    extension_cap: Duration | None = None
    agreement_beyond: Duration | None = None
    ombudsman_details_instead_of_agreement: bool = False
    ombudsman_details_with_extension: bool = False
    update_interval: Duration | None = None
    handler_min_role: str | None = None
    flagged_handler_min_role: str | None = None
    handler_flags: tuple[str, ...] = ()
    unrelated_department: bool = False

    @property
    def response_counts_from_acknowledgement(self) -> bool:
        return self.response_from == "acknowledgement"


@dataclass(frozen=True)
class EscalationRules:
    window: Duration | None
    late_allowed: bool
    early: str  # "none" | "after_original_response_date"
    reasons_required: bool


@dataclass(frozen=True)
class OmbudsmanRules:
    wait: Duration | None
    designated_person_bypass: bool


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    name: str
    source: str
    effective_from: date | None
    informal: InformalStage | None
    time_limit: TimeLimit
    stage_1: StageRules
    escalation: EscalationRules
    stage_2: StageRules
    ombudsman: OmbudsmanRules
    exclusions: tuple[str, ...]
    refusal_grounds: tuple[str, ...]
    closure_days: tuple[date, ...] = ()
    path: str = ""
    due_soon_working_days: int = 1  # lead time of the due-soon reminders (service/due_soon.py); 0: none
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def stage(self, number: int) -> StageRules:
        return self.stage_1 if number == 1 else self.stage_2


# --- loading ---------------------------------------------------------------

_STAGE_KEYS = {
    "acknowledgement",
    "response",
    "response_from",
    "letter",
    "extension_cap",
    "agreement_beyond",
    "ombudsman_details_instead_of_agreement",
    "ombudsman_details_with_extension",
    "update_interval",
    "handler_min_role",
    "flagged_handler_min_role",
    "handler_flags",
    "unrelated_department",
}
_TOP_KEYS = {
    "id",
    "version",
    "name",
    "source",
    "effective_from",
    "closure_days",
    "exclusions",
    "refusal_grounds",
    "informal",
    "time_limit",
    "stage_1",
    "escalation",
    "stage_2",
    "ombudsman",
    "due_soon_working_days",
}


class _Reader:
    """Reads one table of a policy file, naming file and key in every error."""

    def __init__(self, path: str, table: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        self.path, self.table, self.prefix = path, table, prefix
        if not isinstance(table, dict):
            raise PolicyError(f"{path}: {prefix.rstrip('.') or 'file'}: expected a table")
        for key in table:
            if key not in allowed:
                raise PolicyError(f"{path}: unknown key {prefix}{key}")

    def fail(self, key: str, message: str) -> PolicyError:
        return PolicyError(f"{self.path}: {self.prefix}{key}: {message}")

    def raw(self, key: str, required: bool = True) -> Any:
        if key not in self.table:
            if required:
                raise self.fail(key, "missing rule")
            return None
        return self.table[key]

    def text(self, key: str, required: bool = True, choices: tuple[str, ...] | None = None) -> str | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected text, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def duration(self, key: str, required: bool = True) -> Duration | None:
        value = self.raw(key, required)
        if value is None:
            return None
        try:
            return Duration.parse(value)
        except DurationError as err:
            raise self.fail(key, str(err)) from None

    def names(self, key: str, vocabulary: tuple[str, ...], required: bool = True) -> tuple[str, ...]:
        value = self.raw(key, required)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of names")
        for name in value:
            if name not in vocabulary:
                raise self.fail(key, f"unknown name {name!r}")
        return tuple(value)

    def table_of(self, key: str, allowed: set[str], required: bool = True) -> _Reader | None:
        value = self.raw(key, required)
        if value is None:
            return None
        return _Reader(self.path, value, f"{self.prefix}{key}.", allowed)


def _stage(reader: _Reader, number: int) -> StageRules:
    stage = reader.table_of(f"stage_{number}", _STAGE_KEYS)
    assert stage is not None  # required=True raised otherwise
    froms = ("logging", "acknowledgement") if number == 1 else ("request", "acknowledgement")
    return StageRules(
        acknowledgement=stage.duration("acknowledgement"),  # type: ignore[arg-type]
        response=stage.duration("response"),  # type: ignore[arg-type]
        response_from=stage.text("response_from", choices=froms),  # type: ignore[arg-type]
        letter=stage.names("letter", LETTER_FIELDS),
        extension_cap=stage.duration("extension_cap", required=False),
        agreement_beyond=stage.duration("agreement_beyond", required=False),
        ombudsman_details_instead_of_agreement=stage.boolean("ombudsman_details_instead_of_agreement"),
        ombudsman_details_with_extension=stage.boolean("ombudsman_details_with_extension"),
        update_interval=stage.duration("update_interval", required=False),
        handler_min_role=stage.text("handler_min_role", required=False, choices=ROLES),
        flagged_handler_min_role=stage.text("flagged_handler_min_role", required=False, choices=ROLES),
        handler_flags=stage.names("handler_flags", FLAGS, required=False),
        unrelated_department=stage.boolean("unrelated_department"),
    )


def parse_policy(data: dict[str, Any], path: str) -> Policy:
    top = _Reader(path, data, "", _TOP_KEYS)
    version = top.raw("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise top.fail("version", f"expected a whole number from 1, got {version!r}")
    effective = top.raw("effective_from", required=False)
    if effective is not None and not isinstance(effective, date):
        raise top.fail("effective_from", f"expected a date, got {effective!r}")
    closures = top.raw("closure_days", required=False) or []
    if not isinstance(closures, list) or not all(isinstance(d, date) for d in closures):
        raise top.fail("closure_days", "expected a list of dates")
    lead = top.raw("due_soon_working_days", required=False)
    if lead is None:
        lead = 1
    if not isinstance(lead, int) or isinstance(lead, bool) or not 0 <= lead <= 60:
        raise top.fail("due_soon_working_days", f"expected a whole number of working days 0..60, got {lead!r}")
    informal_r = top.table_of("informal", {"response", "on_breach"}, required=False)
    informal = None
    if informal_r is not None:
        informal = InformalStage(
            response=informal_r.duration("response"),  # type: ignore[arg-type]
            on_breach=informal_r.text("on_breach", choices=("record", "move_to_stage_1")),  # type: ignore[arg-type]
        )
    limit_r = top.table_of("time_limit", {"length", "from_awareness"})
    esc_r = top.table_of("escalation", {"window", "late_allowed", "early", "reasons_required"})
    omb_r = top.table_of("ombudsman", {"wait", "designated_person_bypass"})
    assert limit_r is not None and esc_r is not None and omb_r is not None
    return Policy(
        id=top.text("id"),  # type: ignore[arg-type]
        version=version,
        name=top.text("name"),  # type: ignore[arg-type]
        source=top.text("source"),  # type: ignore[arg-type]
        effective_from=effective,
        informal=informal,
        time_limit=TimeLimit(
            length=limit_r.duration("length"),  # type: ignore[arg-type]
            from_awareness=limit_r.boolean("from_awareness"),
        ),
        stage_1=_stage(top, 1),
        escalation=EscalationRules(
            window=esc_r.duration("window", required=False),
            late_allowed=esc_r.boolean("late_allowed"),
            early=esc_r.text("early", choices=("none", "after_original_response_date")),  # type: ignore[arg-type]
            reasons_required=esc_r.boolean("reasons_required"),
        ),
        stage_2=_stage(top, 2),
        ombudsman=OmbudsmanRules(
            wait=omb_r.duration("wait", required=False),
            designated_person_bypass=omb_r.boolean("designated_person_bypass"),
        ),
        exclusions=top.names("exclusions", EXCLUSIONS),
        refusal_grounds=top.names("refusal_grounds", REFUSAL_GROUNDS),
        closure_days=tuple(closures),
        path=path,
        due_soon_working_days=lead,
        calendar=WorkingCalendar.with_closures(closures),
    )


def load_policy_file(path: Path) -> Policy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{path}: not valid TOML: {err}") from None
    except OSError as err:
        raise PolicyError(f"{path}: cannot read: {err.strerror}") from None
    policy = parse_policy(data, str(path))
    if path.parent.name != policy.id or path.stem != str(policy.version):
        raise PolicyError(f"{path}: id/version {policy.ref} does not match the file's place <id>/<version>.toml")
    return policy
