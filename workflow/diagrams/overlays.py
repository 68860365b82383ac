"""Diagrams of what happened: one case's path over its policy, and the process map of many cases.

A case diagram is the policy diagram with the case's events numbered on the
arrows they took (by ``seq``), breached deadlines in red, states it passed
through tinted and its current state highlighted. A process map draws only
the transitions stored histories made, each with its count and the median
working days the cases had spent in the state before taking it; arrow width
grows with the count. Both are pure: the caller reads the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from workflow.audit.history import EventRecord
from workflow.case import PASSED, Case
from workflow.diagrams import EVENT, TIMER, Arrow, Diagram, Line, policy_diagram
from workflow.diagrams.labels import timer_name
from workflow.policy import Policy
from workflow.vocabulary import CLOSURE_BY_EVENT, DEADLINE_PASSED, EVENTS, NEW, STATES, WINDOWS

PATH_COLOR = "#1459b8"
_ORDER = {name: i for i, name in enumerate((NEW, *STATES))}


def _key(record: EventRecord) -> str:
    return str(record.data.get("deadline", "")) if record.name == DEADLINE_PASSED else record.name


def _find(arrows: list[Arrow], record: EventRecord) -> int | None:
    for index, arrow in enumerate(arrows):
        if (arrow.source, arrow.target) == (record.state_before, record.state_after) and record.name in arrow.triggers:
            return index
    return None


def case_diagram(policy: Policy, case: Case, records: Sequence[EventRecord]) -> Diagram:
    """The policy diagram with this case's path: numbered steps, breaches in red, current state highlighted."""
    base = policy_diagram(policy)
    arrows = list(base.arrows)
    steps: dict[tuple[int, str], list[int]] = {}
    breached: dict[tuple[int, str], list[str]] = {}
    for record in records:
        index = _find(arrows, record)
        if index is None:  # not drawn (a timer loop with nothing listed): draw it now, so no step is lost
            style = TIMER if record.name == DEADLINE_PASSED else EVENT
            arrows.append(
                Arrow(record.state_before, record.state_after, style, (Line(record.name, "event", record.name),))
            )
            index = len(arrows) - 1
        key = _key(record)
        steps.setdefault((index, key), []).append(record.seq)
        if record.name == DEADLINE_PASSED and key not in WINDOWS:
            breached.setdefault((index, key), []).append(str(record.data.get("due", "")))
    for (index, key), seqs in steps.items():
        arrow = arrows[index]
        mark = ",".join(map(str, seqs))
        lines = list(arrow.lines)
        hit = next((i for i, line in enumerate(lines) if line.key == key and line.role != "guard"), None)
        if hit is None:
            lines.append(Line(timer_name(key), "timer", key))
            hit = len(lines) - 1
        alert = (index, key) in breached
        text = lines[hit].text
        if alert:
            text = text.removesuffix(" \u00b7 breach") + f" \u00b7 BREACHED (due {', '.join(breached[(index, key)])})"
        lines[hit] = replace(lines[hit], text=text, mark=f"[{mark}]", alert=alert)
        arrows[index] = replace(arrow, lines=tuple(lines), color=PATH_COLOR, width=2.5)
    visited = {r.state_before for r in records} | {r.state_after for r in records}
    highlight = {state: "visited" for state in visited if state in base.states}
    highlight[case.state] = "current"
    closure = f" ({case.closure_reason})" if case.closure_reason else ""
    legend = [f"case {case.id}, {policy.ref}: now {case.state}{closure}, {len(records)} events"]
    for d in case.deadlines:
        if d.status == PASSED and not d.is_window:
            legend.append(f"breached: {timer_name(d.kind)}, due {d.due.isoformat()}")
    if len(legend) == 1:
        legend.append("no deadline breached")
    return replace(
        base,
        name=f"case {case.id}",
        title=f"case {case.id} under {policy.ref}",
        arrows=tuple(arrows),
        highlight=highlight,
        legend=tuple(legend),
    )


@dataclass(frozen=True)
class FlowStep:
    """One kind of transition that stored histories made, with how often and how long cases took."""

    source: str
    target: str
    trigger: str
    kind: str | None  # the deadline kind, for deadline_passed
    count: int
    median_working_days: float | None  # in the source state before this transition (state changes only)


def _step_line(step: FlowStep) -> Line:
    if step.trigger == DEADLINE_PASSED and step.kind:
        outcome = "passed" if step.kind in WINDOWS else "breach"
        return Line(f"{timer_name(step.kind)} {outcome} x{step.count}", "timer", step.kind, alert=outcome == "breach")
    text = step.trigger
    if step.target == "closed" and step.source != "closed" and step.trigger in CLOSURE_BY_EVENT:
        text += f" -> {CLOSURE_BY_EVENT[step.trigger]}"
    text += f" x{step.count}"
    if step.median_working_days is not None:
        text += f", median {step.median_working_days:g} WD"
    return Line(text, "event", step.trigger)


def flow_diagram(name: str, title: str, steps: Iterable[FlowStep], cases: int, period: str) -> Diagram:
    """The process map: every transition that happened, thicker the more often."""
    steps = sorted(
        steps,
        key=lambda s: (_ORDER.get(s.source, 99), _ORDER.get(s.target, 99), EVENTS.index(s.trigger), s.kind or ""),
    )
    groups: dict[tuple[str, str, str], list[FlowStep]] = {}
    for step in steps:
        style = TIMER if step.trigger == DEADLINE_PASSED else EVENT
        groups.setdefault((step.source, step.target, style), []).append(step)
    most = max((sum(s.count for s in g) for g in groups.values()), default=1)
    arrows = []
    for (source, target, style), members in groups.items():
        total = sum(s.count for s in members)
        lines: list[Line] = [Line(DEADLINE_PASSED, "event", DEADLINE_PASSED)] if style == TIMER else []
        lines.extend(_step_line(s) for s in members)
        arrows.append(Arrow(source, target, style, tuple(lines), width=round(1 + 5 * total / most, 1)))
    states = {s for g in groups for s in g[:2]}
    breaches: dict[str, int] = {}
    for step in steps:
        if step.trigger == DEADLINE_PASSED and step.kind and step.kind not in WINDOWS:
            breaches[step.kind] = breaches.get(step.kind, 0) + step.count
    legend = [f"{cases} case{'' if cases == 1 else 's'} received {period}"]
    legend += [f"{timer_name(kind)}: {n} breach{'' if n == 1 else 'es'}" for kind, n in sorted(breaches.items())]
    if not breaches:
        legend.append("no deadline breached")
    return Diagram(
        name,
        title,
        tuple(sorted(states, key=lambda s: _ORDER.get(s, 99))),
        tuple(arrows),
        legend=tuple(legend),
    )
