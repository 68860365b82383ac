"""Words for the diagrams: readable guard names, closure reasons and the clocks each state can have running.

The machine names its guards after reason codes (``stage_2_same_handler``);
an analyst reads "reviewer is not the stage 1 handler". A guard is only
drawn where the policy gives it something to check (no role minimum: no
``senior_handler_required``), and an edge whose guard can never pass under
the policy is marked as always refused rather than hidden.

``running_timers`` is DOMAIN.md's "Deadlines" table read per state (what
``workflow.effects`` opens, meets and cancels): the deadlines that can be
open while a case sits in a state, with their lengths in the policy's words.
A unit test walks random histories through the engine and checks that every
open deadline it meets is listed here, so the picture cannot quietly drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workflow.calendar import Duration
from workflow.machine import Edge
from workflow.policy import Policy, StageRules
from workflow.vocabulary import WINDOWS


def _stage(edge: Edge) -> int:
    return 2 if edge.source.startswith("stage_2") else 1


def _roles(policy: Policy, edge: Edge) -> str | None:
    rules = policy.stage(_stage(edge))
    parts = []
    if rules.handler_min_role:
        parts.append(f"handler {rules.handler_min_role} or above")
    if _stage(edge) == 1 and rules.flagged_handler_min_role:
        parts.append(f"{rules.flagged_handler_min_role} or above if flagged")
    return ", ".join(parts) or None


def _cap(rules: StageRules) -> str | None:
    if rules.extension_cap is None:
        return None
    return f"within +{rules.extension_cap} (unless good reason)"


def _agreement(rules: StageRules) -> str | None:
    if rules.agreement_beyond is None:
        return None
    instead = " or Ombudsman details" if rules.ombudsman_details_instead_of_agreement else ""
    return f"beyond +{rules.agreement_beyond}: customer agreed{instead}"


def _window(policy: Policy) -> str | None:
    window = policy.escalation.window
    if window is None:
        return None
    late = " (late with a reason)" if policy.escalation.late_allowed else ""
    return f"within the {window} window{late}"


def _wait(policy: Policy) -> str | None:
    wait = policy.ombudsman.wait
    if wait is None:
        return None
    bypass = " or via a designated person" if policy.ombudsman.designated_person_bypass else ""
    return f"{wait} wait over{bypass}"


# guard name -> its words under this policy for this edge (None: the policy gives it nothing to check)
_GUARD_WORDS: dict[str, Callable[[Policy, Edge], str | None]] = {
    "handler_is_subject": lambda p, e: "handler is not the subject",
    "senior_handler_required": _roles,
    "stage_2_same_handler": lambda p, e: "reviewer is not the stage 1 handler",
    "stage_2_same_department": lambda p, e: (
        "reviewer from an unrelated department" if p.stage_2.unrelated_department else None
    ),
    "definition_missing": lambda p, e: "complaint defined",
    "decline_reason_holds": lambda p, e: f"reason is one of {len(p.exclusions)} exclusions",
    "refusal_ground_holds": lambda p, e: f"reason is one of {len(p.refusal_grounds)} refusal grounds",
    "not_acknowledged": lambda p, e: "a response date exists",
    "new_due_invalid": lambda p, e: "new due date later",
    "extension_reason_missing": lambda p, e: "reason given",
    "extension_too_long": lambda p, e: _cap(p.stage(_stage(e))),
    "extension_needs_agreement": lambda p, e: _agreement(p.stage(_stage(e))),
    "ombudsman_details_missing": lambda p, e: (
        "Ombudsman details given" if p.stage(_stage(e)).ombudsman_details_with_extension else None
    ),
    "letter_incomplete": lambda p, e: f"letter has {len(p.stage(_stage(e)).letter)} parts",
    "not_requested_by_customer": lambda p, e: "asked by the customer",
    "escalation_window_closed": lambda p, e: _window(p),
    "stage_1_not_finished": lambda p, e: "original response date passed",
    "escalation_reasons_required": lambda p, e: "reasons given" if p.escalation.reasons_required else None,
    "procedure_not_exhausted": lambda p, e: "procedure exhausted",
    "ombudsman_wait": lambda p, e: _wait(p),
}


def guard_words(policy: Policy, edge: Edge) -> list[str]:
    """The conditions an analyst reads on an edge: only the guards this policy gives something to check."""
    words = []
    for guard in edge.guards:
        describe = _GUARD_WORDS.get(guard.__name__)
        text = describe(policy, edge) if describe else guard.__name__
        if text:
            words.append(text)
    return words


def always_refused(policy: Policy, edge: Edge) -> str | None:
    """Why an edge can never be taken under ``policy`` (it exists so the refusal has a reason), else None."""
    names = {guard.__name__ for guard in edge.guards}
    if "stage_1_not_finished" in names and policy.escalation.early == "none":
        return "stage_1_not_finished: no early escalation"
    if "refusal_ground_holds" in names and not policy.refusal_grounds:
        return "not_a_refusal_ground: the policy has no refusal grounds"
    if "decline_reason_holds" in names and not policy.exclusions:
        return "not_an_exclusion: the policy has no exclusions"
    return None


@dataclass(frozen=True)
class Timer:
    """A deadline that can be running in a state, in the policy's words."""

    kind: str
    text: str

    @property
    def is_window(self) -> bool:
        return self.kind in WINDOWS

    @property
    def outcome(self) -> str:
        return "window" if self.is_window else "breach"


def timer_name(kind: str) -> str:
    return kind.replace("_", " ")


def _length(kind: str, length: Duration, suffix: str = "") -> Timer:
    return Timer(kind, f"{timer_name(kind)}: {length}{suffix}")


def _stage_timers(policy: Policy, n: int, extended: bool, requested: bool = False) -> list[Timer]:
    rules = policy.stage(n)
    timers: list[Timer] = []
    ack_open = not extended or rules.response_from != "acknowledgement"
    if ack_open and (n == 1 or requested):
        timers.append(_length(f"stage_{n}_acknowledgement", rules.acknowledgement))
    if extended:
        cap = f"cap +{rules.extension_cap}" if rules.extension_cap else "no cap"
        timers.append(Timer(f"stage_{n}_response", f"stage {n} response: the extended date ({cap})"))
    else:
        timers.append(_length(f"stage_{n}_response", rules.response, f" from {rules.response_from}"))
    if rules.update_interval is not None:
        timers.append(Timer(f"stage_{n}_update", f"stage {n} update: every {rules.update_interval}"))
    return timers


def escalation_timer(policy: Policy) -> Timer | None:
    window = policy.escalation.window
    if window is None:
        return None
    late = ", late with a reason" if policy.escalation.late_allowed else ""
    return Timer("escalation_window", f"escalation window: {window}{late}")


def running_timers(policy: Policy) -> dict[str, list[Timer]]:
    """State -> the deadlines that can be open while a case is in it (DOMAIN.md, Deadlines)."""
    out: dict[str, list[Timer]] = {}
    if policy.informal is not None:
        out["stage_0"] = [_length("informal_response", policy.informal.response)]
    out["stage_1"] = _stage_timers(policy, 1, extended=False)
    out["stage_1_extended"] = _stage_timers(policy, 1, extended=True)
    window = escalation_timer(policy)
    out["stage_1_responded"] = [window] if window else []
    out["stage_2_requested"] = _stage_timers(policy, 2, extended=False, requested=True)
    out["stage_2"] = _stage_timers(policy, 2, extended=False)
    out["stage_2_extended"] = _stage_timers(policy, 2, extended=True)
    closed = [window] if window else []
    if policy.ombudsman.wait is not None:
        closed.append(_length("ombudsman_wait", policy.ombudsman.wait))
    out["closed"] = closed
    out["ombudsman_referred"] = []
    return out
