"""Guards: each returns the reason codes it finds (empty = allowed).

``transitions`` stops at the first failing condition and says nothing; a
back-office system needs every reason at once. So each guard here is a plain
function of an ``EventContext`` and the machine wraps it as a named
condition; the engine evaluates all of a transition's guards to build a
refusal (DOMAIN.md, Guards in detail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow.calendar import add_months, breach_instant, local_date
from workflow.case import Case, Deadline
from workflow.data import parse_iso_date
from workflow.policy import Policy, StageRules
from workflow.vocabulary import role_rank


@dataclass
class EventContext:
    """Everything a guard or a routing condition may look at."""

    case: Case
    policy: Policy
    event: str
    data: dict[str, Any]
    occurred_at: datetime
    now: datetime
    details: dict[str, str]  # guards add human detail here (e.g. which letter fields are missing)
    guards_passed: bool = False  # set once decide() found no reason: the machine need not re-check

    @property
    def day(self) -> date:
        return local_date(self.occurred_at)

    def flag(self, name: str) -> bool:
        return self.data.get(name) is True

    def text(self, name: str) -> str:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) else ""

    @property
    def stage(self) -> int:
        """The stage an acknowledge/extend/respond speaks for, read off the source state."""
        return 2 if self.case.state.startswith("stage_2") else 1

    @property
    def rules(self) -> StageRules:
        return self.policy.stage(self.stage)


Guard = Callable[[EventContext], list[str]]


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().casefold() == b.strip().casefold())


def _passed(deadline: Deadline | None, at: datetime) -> bool:
    """Has passed, as DOMAIN.md says: the event's instant against the passing instant, whatever the status."""
    return deadline is not None and at >= deadline.breach_at


# --- acknowledge -------------------------------------------------------------


def handler_is_subject(ctx: EventContext) -> list[str]:
    subject = ctx.case.received.get("subject_staff")
    return ["handler_is_subject"] if _same(ctx.text("handler"), subject) else []


def senior_handler_required(ctx: EventContext) -> list[str]:
    role = ctx.data.get("handler_role")
    rules = ctx.rules
    minimum = rules.handler_min_role
    if ctx.stage == 1 and rules.flagged_handler_min_role and set(ctx.case.flags()) & set(rules.handler_flags):
        flagged = rules.flagged_handler_min_role
        if minimum is None or role_rank(flagged) > role_rank(minimum):
            minimum = flagged
    if minimum is None or not isinstance(role, str):
        return []
    return ["senior_handler_required"] if role_rank(role) < role_rank(minimum) else []


def stage_2_same_handler(ctx: EventContext) -> list[str]:
    name = ctx.text("handler")
    if any(_same(name, h.name) for h in ctx.case.stage_handlers(1)):
        return ["stage_2_same_handler"]
    return []


def stage_2_same_department(ctx: EventContext) -> list[str]:
    if not ctx.policy.stage_2.unrelated_department:
        return []
    department = ctx.text("handler_department")
    if not department:
        ctx.details["stage_2_same_department"] = "no handler_department given"
        return ["stage_2_same_department"]
    related = [ctx.case.received.get("subject_department")] + [h.department for h in ctx.case.stage_handlers(1)]
    return ["stage_2_same_department"] if any(_same(department, d) for d in related) else []


def definition_missing(ctx: EventContext) -> list[str]:
    return [] if ctx.text("complaint_definition") else ["definition_missing"]


# --- decline / refuse_escalation ---------------------------------------------


def reference_date(case: Case, policy: Policy) -> date | None:
    incident = parse_iso_date(case.received.get("incident_date"))
    aware = parse_iso_date(case.received.get("aware_date"))
    if policy.time_limit.from_awareness and aware and (incident is None or aware > incident):
        return aware
    return incident


def is_out_of_time(case: Case, policy: Policy) -> bool:
    reference = reference_date(case, policy)
    if reference is None or case.opened_at is None:
        return False
    limit = policy.time_limit.length
    months = limit.amount if limit.unit == "months" else None
    end = add_months(reference, months) if months is not None else policy.calendar.add(reference, limit)
    return local_date(case.opened_at) > end


def decline_reason_holds(ctx: EventContext) -> list[str]:
    reason = ctx.text("reason")
    if reason not in ctx.policy.exclusions:
        return ["not_an_exclusion"]
    received = ctx.case.received
    if reason == "out_of_time" and not is_out_of_time(ctx.case, ctx.policy):
        return ["out_of_time_not_met"]
    if reason == "anonymous" and received.get("anonymous") is not True:
        return ["exclusion_not_met"]
    if reason == "no_authority" and (
        received.get("representative") is not True or received.get("authority_given") is True
    ):
        return ["exclusion_not_met"]
    return []


def refusal_ground_holds(ctx: EventContext) -> list[str]:
    return [] if ctx.text("reason") in ctx.policy.refusal_grounds else ["not_a_refusal_ground"]


# --- extend ------------------------------------------------------------------


def _response(ctx: EventContext) -> Deadline | None:
    return ctx.case.current(f"stage_{ctx.stage}_response")


def _new_due(ctx: EventContext) -> date | None:
    return parse_iso_date(ctx.data.get("new_due"))


def not_acknowledged(ctx: EventContext) -> list[str]:
    return [] if _response(ctx) else ["not_acknowledged"]


def new_due_invalid(ctx: EventContext) -> list[str]:
    new_due, current = _new_due(ctx), _response(ctx)
    if new_due is None or new_due < ctx.day or (current is not None and new_due <= current.due):
        return ["new_due_invalid"]
    return []


def extension_reason_missing(ctx: EventContext) -> list[str]:
    return [] if ctx.text("reason") else ["extension_reason_missing"]


def _beyond(ctx: EventContext, length: Any) -> bool:
    new_due, current = _new_due(ctx), _response(ctx)
    if length is None or new_due is None or current is None:
        return False
    original = current.original_due or current.due
    return new_due > ctx.policy.calendar.add(original, length)


def extension_too_long(ctx: EventContext) -> list[str]:
    if _beyond(ctx, ctx.rules.extension_cap) and not ctx.flag("good_reason"):
        return ["extension_too_long"]
    return []


def extension_needs_agreement(ctx: EventContext) -> list[str]:
    if not _beyond(ctx, ctx.rules.agreement_beyond) or ctx.flag("customer_agreed"):
        return []
    if ctx.rules.ombudsman_details_instead_of_agreement and ctx.flag("ombudsman_details_given"):
        return []
    return ["extension_needs_agreement"]


def ombudsman_details_missing(ctx: EventContext) -> list[str]:
    if ctx.rules.ombudsman_details_with_extension and not ctx.flag("ombudsman_details_given"):
        return ["ombudsman_details_missing"]
    return []


# --- respond -----------------------------------------------------------------


def letter_incomplete(ctx: EventContext) -> list[str]:
    missing = [name for name in ctx.rules.letter if not ctx.text(name)]
    if missing:
        ctx.details["letter_incomplete"] = "missing: " + ", ".join(missing)
        return ["letter_incomplete"]
    return []


# --- escalation --------------------------------------------------------------


def not_requested_by_customer(ctx: EventContext) -> list[str]:
    by = ctx.data.get("requested_by")
    received = ctx.case.received
    if by == "customer":
        return []
    if by == "representative" and received.get("representative") is True and received.get("authority_given") is True:
        return []
    return ["not_requested_by_customer"]


def escalation_window_closed(ctx: EventContext) -> list[str]:
    window = ctx.case.latest("escalation_window")
    if window is None or window.status == "met" or not _passed(window, ctx.occurred_at):
        return []
    if ctx.policy.escalation.late_allowed and ctx.text("late_reason"):
        return []
    return ["escalation_window_closed"]


def stage_1_not_finished(ctx: EventContext) -> list[str]:
    if ctx.policy.escalation.early != "after_original_response_date":
        return ["stage_1_not_finished"]
    response = ctx.case.current("stage_1_response")
    if response is None:
        return ["stage_1_not_finished"]
    original = response.original_due or response.due
    if ctx.occurred_at < breach_instant(original):
        return ["stage_1_not_finished"]
    if response.status == "open" and response.agreed and ctx.occurred_at < response.breach_at:
        return ["stage_1_not_finished"]  # an extension agreed with the customer is running
    return []


def escalation_reasons_required(ctx: EventContext) -> list[str]:
    if ctx.policy.escalation.reasons_required and not ctx.text("reasons"):
        return ["escalation_reasons_required"]
    return []


# --- Ombudsman ---------------------------------------------------------------


def procedure_not_exhausted(ctx: EventContext) -> list[str]:
    if ctx.case.closure_reason in ("stage_1_final", "withdrawn", "resolved_informally"):
        return ["procedure_not_exhausted"]
    return []


def ombudsman_wait(ctx: EventContext) -> list[str]:
    wait = ctx.case.open_deadline("ombudsman_wait")
    if wait is None or ctx.occurred_at >= wait.breach_at:
        return []
    if ctx.flag("via_designated_person") and ctx.policy.ombudsman.designated_person_bypass:
        return []
    return ["ombudsman_wait"]
