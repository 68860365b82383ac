"""The diagram model, drawn from the machine that runs the cases.

Every arrow is built from ``machine_for(policy).edges``, so a diagram cannot
show a move the machine does not make. Edges between the same two states in
the same style are merged into one arrow with a line per event; states are
grouped under DOMAIN.md's six stage names. Three styles:

- event: one a client sends, labelled with the guards this policy gives
  something to check (``workflow.diagrams.labels``);
- timer: ``deadline_passed``, labelled with the deadlines that can be running
  in the state and their lengths in the policy's words; a self-loop records a
  breach (or a window passing), an arrow to another state is a deadline whose
  passing moves the case;
- refused: an edge the machine has only so that its refusal has a reason
  (its guard can never pass under this policy).

``workflow.diagrams.dot`` and ``workflow.diagrams.mermaid`` write the text;
``workflow.diagrams.overlays`` adds a case's path or a process map. Output is
deterministic (fixed orders, no timestamps), so committed diagrams can be
compared with what the code generates. All of it is pure; ``api.render``
runs Graphviz.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from workflow.diagrams.labels import always_refused, guard_words, running_timers
from workflow.machine import Edge, machine_for
from workflow.policy import Policy
from workflow.vocabulary import CLOSURE_BY_EVENT, DEADLINE_PASSED, EVENTS, NEW, STAGE_OF_STATE, STATES

STAGES: tuple[str, ...] = ("stage 0", "stage 1", "extended", "stage 2", "closed", "ombudsman-referred")
EVENT, TIMER, REFUSED = "event", "timer", "refused"
_STYLE_ORDER = {EVENT: 0, TIMER: 1, REFUSED: 2}
WRAP = 38


@dataclass(frozen=True)
class Line:
    """One line of an arrow's label: an event, its guards, or a deadline (``key`` names the trigger or kind)."""

    text: str
    role: str  # "event" | "guard" | "timer" | "note"
    key: str = ""
    mark: str = ""  # added by case and flow diagrams (step numbers, counts)
    alert: bool = False  # drawn in red (a breach)


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    style: str
    lines: tuple[Line, ...]
    edges: tuple[Edge, ...] = ()
    color: str | None = None
    width: float = 1.0

    @property
    def triggers(self) -> list[str]:
        return sorted({e.trigger for e in self.edges}, key=EVENTS.index)


@dataclass(frozen=True)
class Diagram:
    name: str
    title: str
    states: tuple[str, ...]
    arrows: tuple[Arrow, ...]
    highlight: dict[str, str] = field(default_factory=dict)  # state -> "current" | "visited"
    legend: tuple[str, ...] = ()
    undrawn: tuple[Edge, ...] = ()  # timer self-loops with no deadline of this policy that can pass there


def _event_line(edge: Edge) -> Line:
    text = edge.trigger
    routes = [r.label for r in edge.routes]
    if routes:
        text += ", " + ", ".join(routes)
    if edge.dest == "closed" and edge.source != "closed":
        text += f" -> {CLOSURE_BY_EVENT[edge.trigger]}"
    return Line(text, "event", edge.trigger)


def _guard_lines(words: list[str], prefix: str = "if ") -> list[Line]:
    if not words:
        return []
    wrapped = textwrap.wrap(prefix + "; ".join(words), WRAP, subsequent_indent="  ")
    return [Line(text, "guard") for text in wrapped]


def _timer_lines(policy: Policy, edge: Edge, moving: dict[str, set[str]]) -> list[Line]:
    timers = running_timers(policy).get(edge.source, [])
    if edge.dest is not None:
        chosen = [t for t in timers if t.kind == edge.timer]
        closure = f" -> {CLOSURE_BY_EVENT[DEADLINE_PASSED]}" if edge.dest == "closed" else ""
        return [Line(f"{t.text}: passes{closure}", "timer", t.kind) for t in chosen]
    kept = [t for t in timers if t.kind not in moving.get(edge.source, set())]
    return [Line(f"{t.text} \u00b7 {t.outcome}", "timer", t.kind) for t in kept]


def policy_diagram(policy: Policy) -> Diagram:
    """The whole machine of one policy version, as a diagram model."""
    edges = machine_for(policy).edges
    moving: dict[str, set[str]] = {}
    for edge in edges:
        if edge.trigger == DEADLINE_PASSED and edge.dest is not None and edge.timer:
            moving.setdefault(edge.source, set()).add(edge.timer)
    groups: dict[tuple[str, str, str], list[tuple[Edge, list[Line]]]] = {}
    undrawn: list[Edge] = []
    for edge in edges:
        if edge.trigger == DEADLINE_PASSED:
            lines = _timer_lines(policy, edge, moving)
            if not lines:
                undrawn.append(edge)
                continue
            style, lines = TIMER, [Line(DEADLINE_PASSED, "event", DEADLINE_PASSED), *lines]
        elif (why := always_refused(policy, edge)) is not None:
            style, lines = REFUSED, [_event_line(edge), *_guard_lines([why], "always refused: ")]
        else:
            style, lines = EVENT, [_event_line(edge), *_guard_lines(guard_words(policy, edge))]
        groups.setdefault((edge.source, edge.target, style), []).append((edge, lines))
    arrows = []
    for (source, target, style), members in sorted(groups.items(), key=_group_order):
        members.sort(key=lambda m: EVENTS.index(m[0].trigger))
        lines = tuple(line for _, ls in members for line in ls)
        arrows.append(Arrow(source, target, style, lines, tuple(e for e, _ in members)))
    states = tuple(s for s in machine_for(policy).states)
    title = f"{policy.ref}: {policy.name}"
    return Diagram(policy.ref, title, states, tuple(arrows), undrawn=tuple(undrawn))


def _group_order(item: tuple[tuple[str, str, str], object]) -> tuple[int, int, int]:
    source, target, style = item[0]
    return ORDER.get(source, 99), ORDER.get(target, 99), _STYLE_ORDER[style]


def state_arrows(diagram: Diagram) -> Iterable[tuple[str, str, str]]:
    return ((a.source, a.target, a.style) for a in diagram.arrows)


def with_arrows(diagram: Diagram, arrows: Iterable[Arrow], **changes: object) -> Diagram:
    return replace(diagram, arrows=tuple(arrows), **changes)  # type: ignore[arg-type]


# Shared by the DOT and Mermaid writers: colours of the stages and highlights, and where extended states nest.
STAGE_FILL = {
    "stage 0": "#f3f3f3",
    "stage 1": "#eaf2fb",
    "extended": "#fdf3e1",
    "stage 2": "#eef7ec",
    "closed": "#f1ecf7",
    "ombudsman-referred": "#fbeaea",
}
NODE_FILL = {"current": "#ffd54f", "visited": "#cfe3f7"}
EXTENDED_IN = {"stage 1": "stage_1", "stage 2": "stage_2"}  # stage -> prefix of its extended state
ORDER = {name: i for i, name in enumerate((NEW, *STATES))}


def members(diagram: Diagram, stage: str) -> tuple[list[str], list[str]]:
    """A stage's own states, and the extended states nested inside it."""
    own = [s for s in diagram.states if STAGE_OF_STATE.get(s) == stage]
    prefix = EXTENDED_IN.get(stage)
    nested = [s for s in diagram.states if STAGE_OF_STATE.get(s) == "extended" and prefix and s.startswith(prefix)]
    return own, nested
