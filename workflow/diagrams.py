"""State diagrams drawn from the machine that runs the cases: Graphviz DOT and Mermaid text.

Every arrow is built from ``machine_for(policy).edges``, so a diagram cannot
show a move the machine does not make. Edges between the same two states in
the same style are merged into one arrow with a line per event; states are
grouped under DOMAIN.md's six stage names (Graphviz clusters, Mermaid
subgraphs). Three styles:

- solid: an event a client sends, labelled with the guards this policy gives
  something to check (``workflow.diagram_labels``);
- dashed: ``deadline_passed``, labelled with the deadlines that can be
  running in the state and their lengths in the policy's words; a self-loop
  records a breach (or a window passing), an arrow to another state is a
  deadline whose passing moves the case;
- dotted grey: an edge the machine has only so that its refusal has a reason
  (its guard can never pass under this policy).

Output is deterministic (fixed orders, no timestamps), so committed diagrams
can be compared with what the code generates. This module is pure: it makes
text; ``api.render`` runs Graphviz.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from workflow.diagram_labels import CLOSURE_BY_EVENT, always_refused, guard_words, running_timers
from workflow.machine import Edge, machine_for
from workflow.policy import Policy
from workflow.vocabulary import DEADLINE_PASSED, EVENTS, NEW, STAGE_OF_STATE, STATES

STAGES: tuple[str, ...] = ("stage 0", "stage 1", "extended", "stage 2", "closed", "ombudsman-referred")
EVENT, TIMER, REFUSED = "event", "timer", "refused"
_ORDER = {name: i for i, name in enumerate((NEW, *STATES))}
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
    return _ORDER.get(source, 99), _ORDER.get(target, 99), _STYLE_ORDER[style]


def state_arrows(diagram: Diagram) -> Iterable[tuple[str, str, str]]:
    return ((a.source, a.target, a.style) for a in diagram.arrows)


def with_arrows(diagram: Diagram, arrows: Iterable[Arrow], **changes: object) -> Diagram:
    return replace(diagram, arrows=tuple(arrows), **changes)  # type: ignore[arg-type]


# --- Graphviz DOT -------------------------------------------------------------

_STAGE_FILL = {
    "stage 0": "#f3f3f3",
    "stage 1": "#eaf2fb",
    "extended": "#fdf3e1",
    "stage 2": "#eef7ec",
    "closed": "#f1ecf7",
    "ombudsman-referred": "#fbeaea",
}
_STYLE_DOT = {
    EVENT: 'color="#333333", fontcolor="#222222"',
    TIMER: 'style=dashed, color="#c0620e", fontcolor="#8a4308"',
    REFUSED: 'style=dotted, color="#9a9a9a", fontcolor="#8a8a8a", arrowhead=tee',
}
_NODE_FILL = {"current": "#ffd54f", "visited": "#cfe3f7"}
_TIMER_COLOR = "#c0620e"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _dot_line(line: Line) -> str:
    text = _html(line.text)
    mark = f'<FONT COLOR="#1459b8"><B>{_html(line.mark)}</B></FONT> ' if line.mark else ""
    if line.alert:
        text = f'<FONT COLOR="#c62828"><B>{text}</B></FONT>'
    if line.role == "event":
        color = ' COLOR="#8a4308"' if line.key == DEADLINE_PASSED else ""
        text = f'<FONT POINT-SIZE="10"{color}><B>{text}</B></FONT>'
    elif line.role == "guard":
        text = f'<FONT POINT-SIZE="9"><I>{text}</I></FONT>'
    elif line.role == "timer":
        text = f'<FONT POINT-SIZE="9" COLOR="#8a4308">{text}</FONT>'
    return f'{mark}{text}<BR ALIGN="LEFT"/>'


def _node_id(state: str) -> str:
    return f'"{state}"'


def _compartment(lines: list[Line]) -> str:
    return "".join(_dot_line(line) for line in lines)


def _node_label(state: str, inside: list[Arrow]) -> str:
    """The state's name, its internal events, and its clocks in a dashed box (the timer's self-loop, drawn inside)."""
    rows = [f'<TR><TD><FONT POINT-SIZE="13"><B>{_html(state)}</B></FONT></TD></TR>']
    if STAGE_OF_STATE.get(state) == "extended":  # its group's name, inside: a cluster label would meet the extend arrow
        rows.insert(0, '<TR><TD><FONT POINT-SIZE="11" COLOR="#8a6d3b"><B>extended</B></FONT></TD></TR>')
    events = [line for a in inside if a.style != TIMER for line in a.lines]
    if events:
        cell = '<TD BORDER="1" SIDES="T" ALIGN="LEFT" BALIGN="LEFT">'
        rows.append(f"<TR>{cell}{_compartment(events)}</TD></TR>")
    for arrow in (a for a in inside if a.style == TIMER):
        color = arrow.color or _TIMER_COLOR
        rows.append(
            f'<TR><TD BORDER="1" STYLE="dashed" COLOR="{color}" CELLPADDING="4" ALIGN="LEFT" BALIGN="LEFT">'
            f"{_compartment(list(arrow.lines))}</TD></TR>"
        )
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="2">{"".join(rows)}</TABLE>>'


_PREFIX = {"stage 1": "stage_1", "stage 2": "stage_2"}


def _cluster(diagram: Diagram, stage: str, members: list[str], indent: str, suffix: str = "") -> list[str]:
    """A stage's cluster, left open (the caller closes it, after any nested cluster)."""
    name = "cluster_" + stage.replace(" ", "_").replace("-", "_") + (f"_{suffix}" if suffix else "")
    label = f"<<B>{_html(stage)}</B>>" if not suffix else '""'  # a nested "extended" box names itself inside
    out = [
        f"{indent}subgraph {name} {{",
        f'{indent}  label={label}; style="rounded,filled"; color="#b8b8b8";'
        f' fillcolor="{_STAGE_FILL[stage]}"; fontsize=13;',
    ]
    for state in members:
        inside = [a for a in diagram.arrows if a.source == a.target == state]
        attrs = [f"label={_node_label(state, inside)}"]
        mark = diagram.highlight.get(state)
        if mark:
            attrs.append(f'fillcolor="{_NODE_FILL[mark]}"' + (", penwidth=3" if mark == "current" else ""))
        out.append(f"{indent}  {_node_id(state)} [{', '.join(attrs)}];")
    return out


def to_dot(diagram: Diagram) -> str:
    """Graphviz source, left to right, one cluster per stage; events that keep the state sit in its box."""
    out = [
        f"digraph {_node_id(diagram.name)} {{",
        "  graph [rankdir=LR, newrank=true, nodesep=0.35, ranksep=0.6, fontname=Helvetica, fontsize=16,"
        f" labelloc=t, labeljust=l, label=<<B>{_html(diagram.title)}</B>>];",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname=Helvetica, fontsize=12];',
        "  edge [fontname=Helvetica, fontsize=10, arrowsize=0.7];",
    ]
    if NEW in diagram.states:
        out.append(
            f'  {_node_id(NEW)} [shape=circle, style=filled, fillcolor="#222222", label="", width=0.22, xlabel="new"];'
        )
    for stage in STAGES:
        if stage == "extended":
            continue  # each extended state sits in a box of that name inside its own stage
        members = [s for s in diagram.states if STAGE_OF_STATE.get(s) == stage]
        extended = [
            s for s in diagram.states if STAGE_OF_STATE.get(s) == "extended" and s.startswith(_PREFIX.get(stage, "-"))
        ]
        if not members and not extended:
            continue
        out.extend(_cluster(diagram, stage, members, "  "))
        if extended:
            out.extend(_cluster(diagram, "extended", extended, "    ", _PREFIX[stage]))
            out.append("  }")
        out.append("  }")
    for base, extended in (("stage_1", "stage_1_extended"), ("stage_2", "stage_2_extended")):
        if base in diagram.states and extended in diagram.states:
            out.append(f"  {{rank=same; {_node_id(base)}; {_node_id(extended)};}}")
    for arrow in diagram.arrows:
        if arrow.source == arrow.target:
            continue  # drawn inside the state's box
        attrs = [_STYLE_DOT[arrow.style], f"label=<{_compartment(list(arrow.lines))}>"]
        if arrow.color:
            attrs.append(f'color="{arrow.color}"')
        if arrow.width != 1.0:
            attrs.append(f"penwidth={arrow.width:.1f}")
        out.append(f"  {_node_id(arrow.source)} -> {_node_id(arrow.target)} [{', '.join(attrs)}];")
    if diagram.legend:
        rows = "".join(f'<TR><TD ALIGN="LEFT">{_html(text)}</TD></TR>' for text in diagram.legend)
        out.append(
            '  "legend" [shape=plaintext, style="", label=<<TABLE BORDER="1" CELLBORDER="0"'
            f' CELLSPACING="2" COLOR="#b8b8b8">{rows}</TABLE>>];'
        )
    out.append("}")
    return "\n".join(out) + "\n"


# --- Mermaid -------------------------------------------------------------------

_ARROW_MMD = {EVENT: "-->", TIMER: "-.->", REFUSED: "-.-x"}
_STYLE_MMD = {
    TIMER: "stroke:#c0620e,stroke-width:1.5px,stroke-dasharray:6 4",
    REFUSED: "stroke:#9a9a9a,stroke-width:1px,stroke-dasharray:2 3",
}


def _mmd(text: str) -> str:
    return text.replace('"', "'").replace("|", "/").replace("<", "&lt;").replace(">", "&gt;")


def _mmd_line(line: Line) -> str:
    text = _mmd(line.text)
    if line.mark:
        text = f"<b>{_mmd(line.mark)}</b> {text}"
    if line.role == "event":
        text = f"<b>{text}</b>"
    elif line.role == "guard":
        text = f"<i>{text}</i>"
    return text


def _mmd_node(diagram: Diagram, state: str) -> str:
    inside = [a for a in diagram.arrows if a.source == a.target == state]
    rows = [f"<b>{_mmd(state)}</b>"]
    events = [line for a in inside if a.style != TIMER for line in a.lines]
    timers = [line for a in inside if a.style == TIMER for line in a.lines]
    for lines in (events, timers):
        if lines:
            rows.append("\u2500" * 12)
            rows.extend(_mmd_line(line) for line in lines)
    return f'{state}["{"<br>".join(rows)}"]'


def _mmd_group(diagram: Diagram, stage: str, members: list[str], indent: str, suffix: str = "") -> list[str]:
    name = stage.replace(" ", "_").replace("-", "_") + (f"_{suffix}" if suffix else "") + "_group"
    return [
        f'{indent}subgraph {name}["{stage}"]',
        f"{indent}  style {name} fill:{_STAGE_FILL[stage]},stroke:#b8b8b8",
        *(f"{indent}  {_mmd_node(diagram, s)}" for s in members),
    ]


def to_mermaid(diagram: Diagram) -> str:
    """A Mermaid flowchart (stateDiagram cannot join states of two composite states, nor dash a transition)."""
    out = ["---", f'title: "{_mmd(diagram.title)}"', "---", "flowchart LR"]
    if NEW in diagram.states:
        out.append(f'  {NEW}(("new"))')
    for stage in STAGES:
        if stage == "extended":
            continue
        members = [s for s in diagram.states if STAGE_OF_STATE.get(s) == stage]
        prefix = _PREFIX.get(stage, "-")
        extended = [s for s in diagram.states if STAGE_OF_STATE.get(s) == "extended" and s.startswith(prefix)]
        if not members and not extended:
            continue
        out.extend(_mmd_group(diagram, stage, members, "  "))
        if extended:
            out.extend(_mmd_group(diagram, "extended", extended, "    ", prefix))
            out.append("    end")
        out.append("  end")
    styles: dict[str, list[int]] = {}
    index = 0
    for arrow in diagram.arrows:
        if arrow.source == arrow.target and arrow.style != TIMER:
            continue  # listed inside the state's box
        if arrow.source == arrow.target:
            label = _mmd_line(arrow.lines[0])  # the clocks are listed inside the box
        else:
            label = "<br>".join(_mmd_line(line) for line in arrow.lines)
        out.append(f'  {arrow.source} {_ARROW_MMD[arrow.style]}|"{label}"| {arrow.target}')
        style = _STYLE_MMD.get(arrow.style, "")
        if arrow.color:
            dash = ",stroke-dasharray:6 4" if arrow.style == TIMER else ""
            style = f"stroke:{arrow.color},stroke-width:{max(arrow.width, 1.5):.1f}px{dash}"
        elif arrow.width != 1.0:
            style = (style + "," if style else "") + f"stroke-width:{arrow.width:.1f}px"
        if style:
            styles.setdefault(style, []).append(index)
        index += 1
    if diagram.legend:
        out.append('  legend["' + "<br>".join(_mmd(t) for t in diagram.legend) + '"]')
    for style, indexes in styles.items():
        out.append(f"  linkStyle {','.join(map(str, indexes))} {style}")
    for mark, fill in _NODE_FILL.items():
        members = [s for s, m in diagram.highlight.items() if m == mark]
        if members:
            out.append(f"  classDef {mark} fill:{fill},stroke:#333,stroke-width:{3 if mark == 'current' else 1}px")
            out.append(f"  class {','.join(sorted(members, key=lambda s: _ORDER.get(s, 99)))} {mark}")
    return "\n".join(out) + "\n"
