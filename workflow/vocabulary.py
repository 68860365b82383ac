"""The public names of DOMAIN.md, in one place.

Back-office systems, stored histories and scenario files use these strings;
they are API and are never renamed, only added to.
"""

from __future__ import annotations

STATES: tuple[str, ...] = (
    "stage_0",
    "stage_1",
    "stage_1_extended",
    "stage_1_responded",
    "stage_2_requested",
    "stage_2",
    "stage_2_extended",
    "closed",
    "ombudsman_referred",
)
# The pseudo-state a case is in before `receive` creates it; never stored.
NEW = "new"

# state -> one of the six stage names the design speaks of (diagram clusters).
STAGE_OF_STATE: dict[str, str] = {
    "stage_0": "stage 0",
    "stage_1": "stage 1",
    "stage_1_extended": "extended",
    "stage_1_responded": "stage 1",
    "stage_2_requested": "stage 2",
    "stage_2": "stage 2",
    "stage_2_extended": "extended",
    "closed": "closed",
    "ombudsman_referred": "ombudsman-referred",
}

CLOSURE_REASONS: tuple[str, ...] = (
    "resolved_informally",
    "not_accepted",
    "stage_1_final",
    "escalation_refused",
    "final_response",
    "withdrawn",
)

# Which closure_reason a move into `closed` records, by the event that makes it (DOMAIN.md, Events).
CLOSURE_BY_EVENT: dict[str, str] = {
    "resolve_informally": "resolved_informally",
    "decline": "not_accepted",
    "close": "stage_1_final",
    "deadline_passed": "stage_1_final",  # the escalation window passes in stage_1_responded
    "refuse_escalation": "escalation_refused",
    "respond": "final_response",
    "withdraw": "withdrawn",
}

CLIENT_EVENTS: tuple[str, ...] = (
    "receive",
    "log_formal",
    "resolve_informally",
    "acknowledge",
    "decline",
    "add_issue",
    "extend",
    "respond",
    "request_escalation",
    "refuse_escalation",
    "close",
    "withdraw",
    "record_update",
    "refer_to_ombudsman",
)
DEADLINE_PASSED = "deadline_passed"
EVENTS: tuple[str, ...] = (*CLIENT_EVENTS, DEADLINE_PASSED)

ROLES: tuple[str, ...] = ("officer", "manager", "senior_manager", "director", "executive")
FLAGS: tuple[str, ...] = (
    "vulnerable",
    "health_and_safety",
    "high_profile",
    "complex",
    "persistent",
    "gross_misconduct",
)
REQUESTERS: tuple[str, ...] = ("customer", "representative", "staff")

EXCLUSIONS: tuple[str, ...] = (
    "out_of_time",
    "service_request",
    "legal_proceedings",
    "already_considered",
    "anti_social_behaviour",
    "no_authority",
    "anonymous",
    "insurance_claim",
    "compensation_only",
    "not_our_service",
    "policy_content",
    "right_of_appeal",
    "unreasonable_behaviour_restriction",
)
REFUSAL_GROUNDS: tuple[str, ...] = (
    *EXCLUSIONS,
    "new_issue",
    "disagreement_only",
    "outside_our_control",
    "final_position_given",
)
LETTER_FIELDS: tuple[str, ...] = (
    "decision",
    "reasons",
    "remedy",
    "outstanding_actions",
    "escalation_route",
    "ombudsman_info",
)

DEADLINE_KINDS: tuple[str, ...] = (
    "informal_response",
    "stage_1_acknowledgement",
    "stage_1_response",
    "stage_1_update",
    "escalation_window",
    "stage_2_acknowledgement",
    "stage_2_response",
    "stage_2_update",
    "ombudsman_wait",
)
# Windows are given to the customer; their passing is recorded but never a breach.
WINDOWS: frozenset[str] = frozenset({"escalation_window", "ombudsman_wait"})

REASON_CODES: tuple[str, ...] = (
    # every event
    "invalid_in_state",
    "invalid_data",
    "occurred_before_previous_event",
    "occurred_in_future",
    # guards
    "handler_is_subject",
    "senior_handler_required",
    "stage_2_same_handler",
    "stage_2_same_department",
    "definition_missing",
    "not_an_exclusion",
    "out_of_time_not_met",
    "exclusion_not_met",
    "not_acknowledged",
    "new_due_invalid",
    "extension_reason_missing",
    "extension_too_long",
    "extension_needs_agreement",
    "ombudsman_details_missing",
    "letter_incomplete",
    "not_requested_by_customer",
    "escalation_window_closed",
    "stage_1_not_finished",
    "escalation_reasons_required",
    "not_a_refusal_ground",
    "procedure_not_exhausted",
    "ombudsman_wait",
)
# Codes the service adds for input that never reaches a case.
SERVICE_CODES: tuple[str, ...] = (
    "unknown_event",
    "unknown_policy",
    "case_not_found",
    "version_conflict",
)


def role_rank(role: str) -> int:
    return ROLES.index(role)
