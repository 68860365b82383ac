"""The Code self-assessment: a policy file checked against ``code_2024``, provision by provision.

Landlords self-assess their procedure against the Housing Ombudsman's Complaint
Handling Code every year (Code 8.1-8.2). The machine part of that is here: each
check reads one rule of the policy and the same rule of the ``code_2024``
policy (so the Code's values come from one file, not from constants here) and
says comply or does not comply, with both values in words. It is pure: the
CLI, the HTTP route and the reports (CH02 uses ``response_within_code`` and
``extension_within_code``) share it.

Durations of different units are compared in approximate calendar days (a
working day is 7/5 of a day, a month 30.44 days); every shipped policy uses
the Code's own units, so the approximation never decides a shipped finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from workflow.calendar import Duration
from workflow.machine import machine_for
from workflow.policy import Policy, StageRules

_DAYS = {"working_days": 7 / 5, "calendar_days": 1.0, "weeks": 7.0, "months": 30.44}
# Anchors of a response clock, earliest first: a clock counted from receipt ends no later than one from the ack.
_ANCHOR_RANK = {"logging": 0, "request": 0, "acknowledgement": 1}
_ANCHOR_WORDS = {"logging": "logging", "request": "the request", "acknowledgement": "the acknowledgement"}


@dataclass(frozen=True)
class Finding:
    """One provision of the Code: does the policy comply, and the two values compared."""

    para: str
    provision: str
    title: str
    complies: bool
    policy_value: str
    code_value: str
    why: str

    @property
    def verdict(self) -> str:
        return "comply" if self.complies else "does not comply"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


@dataclass(frozen=True)
class LintResult:
    policy: str
    code: str
    findings: tuple[Finding, ...]

    @property
    def complies(self) -> bool:
        return all(f.complies for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.complies]

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "code": self.code,
            "complies": self.complies,
            "does_not_comply": len(self.failures),
            "findings": [f.to_dict() for f in self.findings],
        }


def no_longer(policy: Duration, code: Duration) -> bool:
    """True when ``policy`` never ends later than ``code`` (same unit: exact; else approximate days)."""
    if policy.unit == code.unit:
        return policy.amount <= code.amount
    return policy.amount * _DAYS[policy.unit] <= code.amount * _DAYS[code.unit]


def response_within_code(policy: Policy, code: Policy, stage: int) -> bool:
    """The stage's response clock ends no later than the Code's (no later anchor, no longer length)."""
    mine, theirs = policy.stage(stage), code.stage(stage)
    earlier_anchor = _ANCHOR_RANK[mine.response_from] <= _ANCHOR_RANK[theirs.response_from]
    return earlier_anchor and no_longer(mine.response, theirs.response)


def extension_within_code(policy: Policy, code: Policy, stage: int) -> bool:
    """Every extension the policy allows without good reason is one the Code allows."""
    mine, theirs = policy.stage(stage).extension_cap, code.stage(stage).extension_cap
    return theirs is None or (mine is not None and no_longer(mine, theirs))


# --- the checks, one a provision ---------------------------------------------

Check = Callable[[Policy, Policy], Finding]


def _two_stages(p: Policy, c: Policy) -> Finding:
    mine = "no informal stage" if p.informal is None else f"an informal stage 0 ({p.informal.response})"
    theirs = "no informal stage" if c.informal is None else f"an informal stage 0 ({c.informal.response})"
    ok = p.informal is None or c.informal is not None
    why = "two stages only" if ok else "the 2024 Code allows no informal stage 0 before stage 1"
    return Finding("5.2-5.3", "two_stages", "Exactly two stages, no informal stage", ok, mine, theirs, why)


def _limit_words(policy: Policy) -> str:
    if "out_of_time" not in policy.exclusions:
        return "no time limit (out_of_time is not an exclusion)"
    limit = policy.time_limit
    start = "the issue or awareness, the later" if limit.from_awareness else "the incident"
    return f"{limit.length} from {start}"


def _time_limit(p: Policy, c: Policy) -> Finding:
    mine, theirs = p.time_limit, c.time_limit
    ok = "out_of_time" not in p.exclusions or (
        no_longer(theirs.length, mine.length) and (mine.from_awareness or not theirs.from_awareness)
    )
    if ok:
        why = "no complaint the Code says to accept is out of time"
    elif not no_longer(theirs.length, mine.length):
        why = f"complaints between {mine.length} and {theirs.length} old may be declined as out of time"
    else:
        why = "the limit runs from the incident, so a complaint raised soon after awareness may be out of time"
    return Finding(
        "2.3", "time_limit", "Complaints accepted within 12 months of the issue or of awareness", ok,
        _limit_words(p), _limit_words(c), why,
    )  # fmt: skip


def _ack(stage: int, para: str, source: str) -> Check:
    def check(p: Policy, c: Policy) -> Finding:
        mine, theirs = p.stage(stage).acknowledgement, c.stage(stage).acknowledgement
        ok = no_longer(mine, theirs)
        why = "no longer than the Code's" if ok else f"longer than the Code's {theirs}"
        return Finding(
            para, f"stage_{stage}_acknowledgement", f"Stage {stage} acknowledged within 5 working days", ok,
            f"{mine} from {source}", f"{theirs} from {source}", why,
        )  # fmt: skip

    return check


def _response_words(rules: StageRules) -> str:
    return f"{rules.response} from {_ANCHOR_WORDS[rules.response_from]}"


def _response(stage: int, para: str) -> Check:
    def check(p: Policy, c: Policy) -> Finding:
        ok = response_within_code(p, c, stage)
        mine, theirs = p.stage(stage), c.stage(stage)
        why = "the response is due no later than the Code's" if ok else "the response may be due later than the Code's"
        if ok and mine.response_from != theirs.response_from:
            why = f"counted from {_ANCHOR_WORDS[mine.response_from]}, earlier than the Code's anchor"
        title = f"Stage {stage} response within {theirs.response} of the acknowledgement"
        return Finding(para, f"stage_{stage}_response", title, ok, _response_words(mine), _response_words(theirs), why)

    return check


def _cap_words(rules: StageRules) -> str:
    if rules.extension_cap is None:
        return "no cap on extensions"
    words = f"at most {rules.extension_cap} more without good reason"
    if rules.agreement_beyond is not None:
        words += f"; customer's agreement beyond {rules.agreement_beyond}"
    return words


def _cap(stage: int, para: str) -> Check:
    def check(p: Policy, c: Policy) -> Finding:
        ok = extension_within_code(p, c, stage)
        theirs = c.stage(stage).extension_cap
        why = "no extension longer than the Code allows" if ok else f"an extension may exceed the Code's {theirs}"
        return Finding(
            para, f"stage_{stage}_extension_cap", f"Stage {stage} extension no more than {theirs} without good reason",
            ok, _cap_words(p.stage(stage)), _cap_words(c.stage(stage)), why,
        )  # fmt: skip

    return check


def _details_words(rules: StageRules) -> str:
    if rules.ombudsman_details_with_extension:
        return "the Ombudsman's details with every extension"
    if rules.ombudsman_details_instead_of_agreement:
        return "the Ombudsman's details only when agreement to a long extension is not reached"
    return "no rule to give the Ombudsman's details"


def _details(stage: int, para: str) -> Check:
    def check(p: Policy, c: Policy) -> Finding:
        needed = c.stage(stage).ombudsman_details_with_extension
        ok = p.stage(stage).ombudsman_details_with_extension or not needed
        why = "details given with every extension" if ok else "an extension may be made without the Ombudsman's details"
        return Finding(
            para, f"stage_{stage}_extension_ombudsman_details",
            f"Stage {stage} extension comes with the Ombudsman's details", ok,
            _details_words(p.stage(stage)), _details_words(c.stage(stage)), why,
        )  # fmt: skip

    return check


def _letter(stage: int, para: str) -> Check:
    def check(p: Policy, c: Policy) -> Finding:
        missing = [f for f in c.stage(stage).letter if f not in p.stage(stage).letter]
        why = "every field the Code requires" if not missing else f"the letter need not give: {', '.join(missing)}"
        return Finding(
            para, f"stage_{stage}_letter", f"Stage {stage} letter contents", not missing,
            ", ".join(p.stage(stage).letter), ", ".join(c.stage(stage).letter), why,
        )  # fmt: skip

    return check


def _reasons(p: Policy, c: Policy) -> Finding:
    words = {True: "reasons required to escalate", False: "no reasons required to escalate"}
    ok = not p.escalation.reasons_required or c.escalation.reasons_required
    why = "the customer may escalate without giving reasons" if ok else "an escalation without reasons is refused"
    return Finding(
        "6.12", "escalation_reasons", "No reasons required to escalate", ok,
        words[p.escalation.reasons_required], words[c.escalation.reasons_required], why,
    )  # fmt: skip


# A new issue raised after the stage 1 response is logged as a new complaint (Code, stage 1): refusing to
# escalate it is in line with the Code, so it is accepted beside the section 2 exclusions.
_NEW_COMPLAINT_GROUNDS = ("new_issue",)


def _refusals(p: Policy, c: Policy) -> Finding:
    allowed = set(p.exclusions) | set(_NEW_COMPLAINT_GROUNDS)
    outside = [g for g in p.refusal_grounds if g not in allowed]
    why = (
        "every ground is one of the policy's section 2 exclusions"
        if not outside
        else f"grounds outside section 2: {', '.join(outside)}"
    )
    return Finding(
        "5.11", "refusal_grounds", "Escalation refused only on section 2 grounds", not outside,
        ", ".join(p.refusal_grounds) or "none (escalation never refused)",
        "the policy's own section 2 exclusions (code_2024: " + ", ".join(c.refusal_grounds) + ")", why,
    )  # fmt: skip


def _guarded(trigger: str, source: str, guard: str, para: str, provision: str, title: str, what: str) -> Check:
    """A rule every policy gets from the machine: the guard is on the edge, or the policy does not comply."""

    def check(p: Policy, c: Policy) -> Finding:
        edges = [e for e in machine_for(p).edges if e.trigger == trigger and e.source == source]
        ok = bool(edges) and all(any(gd.__name__ == guard for gd in e.guards) for e in edges)
        mine = f"{trigger} refused with {guard}" if ok else f"{trigger} does not check {guard}"
        return Finding(para, provision, title, ok, mine, f"{what}", "checked by the machine" if ok else "not checked")

    return check


def _ombudsman(p: Policy, c: Policy) -> Finding:
    def words(policy: Policy) -> str:
        rules = policy.ombudsman
        if rules.wait is None:
            return "at once after the final response, a refusal or a decline"
        bypass = " (at once via a designated person)" if rules.designated_person_bypass else ""
        return f"{rules.wait} after the final response or a refusal{bypass}"

    ok = p.ombudsman.wait is None or c.ombudsman.wait is not None
    why = "no wait" if ok else "the 8-week wait and designated persons were abolished on 1 October 2022"
    return Finding(
        "Scheme (Oct 2022)", "ombudsman_access", "Immediate Ombudsman access after the final response", ok,
        words(p), words(c), why,
    )  # fmt: skip


CHECKS: tuple[Check, ...] = (
    _time_limit,
    _two_stages,
    _guarded("acknowledge", "stage_1", "definition_missing", "5.6", "complaint_definition",
             "Complaint defined at logging", "acknowledge refused with definition_missing"),
    _guarded("acknowledge", "stage_1", "handler_is_subject", "5.8", "impartial_handler",
             "Handler is not the subject of the complaint", "acknowledge refused with handler_is_subject"),
    _refusals,
    _ack(1, "6.2", "receipt"),
    _response(1, "6.3"),
    _cap(1, "6.4"),
    _details(1, "6.5"),
    _letter(1, "6.9"),
    _ack(2, "6.11", "the request"),
    _reasons,
    _guarded("acknowledge", "stage_2_requested", "stage_2_same_handler", "6.13", "stage_2_handler",
             "Stage 2 handler is not the stage 1 handler", "acknowledge refused with stage_2_same_handler"),
    _response(2, "6.14"),
    _cap(2, "6.15"),
    _details(2, "6.16"),
    _letter(2, "6.19"),
    _ombudsman,
)  # fmt: skip


def lint(policy: Policy, code: Policy) -> LintResult:
    """Every provision of ``code`` checked on ``policy``, in the Code's order."""
    return LintResult(policy.ref, code.ref, tuple(check(policy, code) for check in CHECKS))
