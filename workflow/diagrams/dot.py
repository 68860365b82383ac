"""Graphviz DOT text for a diagram: left to right, one cluster per stage, clocks in dashed boxes.

Events that keep the state and the deadlines that can pass there are drawn
inside the state's box (UML's internal transitions), so the arrows between
boxes are only the moves. HTML-like labels carry the typography: events bold,
guards italic, clocks orange, a case's steps blue, breaches red.
"""

from __future__ import annotations

from workflow.diagrams import (
    EVENT,
    EXTENDED_IN,
    NODE_FILL,
    REFUSED,
    STAGE_FILL,
    STAGES,
    TIMER,
    Arrow,
    Diagram,
    Line,
    members,
)
from workflow.vocabulary import DEADLINE_PASSED, NEW, STAGE_OF_STATE

_STYLE_DOT = {
    EVENT: 'color="#333333", fontcolor="#222222"',
    TIMER: 'style=dashed, color="#c0620e", fontcolor="#8a4308"',
    REFUSED: 'style=dotted, color="#9a9a9a", fontcolor="#8a8a8a", arrowhead=tee',
}
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


def _cluster(diagram: Diagram, stage: str, members: list[str], indent: str, suffix: str = "") -> list[str]:
    """A stage's cluster, left open (the caller closes it, after any nested cluster)."""
    name = "cluster_" + stage.replace(" ", "_").replace("-", "_") + (f"_{suffix}" if suffix else "")
    label = f"<<B>{_html(stage)}</B>>" if not suffix else '""'  # a nested "extended" box names itself inside
    out = [
        f"{indent}subgraph {name} {{",
        f'{indent}  label={label}; style="rounded,filled"; color="#b8b8b8";'
        f' fillcolor="{STAGE_FILL[stage]}"; fontsize=13;',
    ]
    for state in members:
        inside = [a for a in diagram.arrows if a.source == a.target == state]
        attrs = [f"label={_node_label(state, inside)}"]
        mark = diagram.highlight.get(state)
        if mark:
            attrs.append(f'fillcolor="{NODE_FILL[mark]}"' + (", penwidth=3" if mark == "current" else ""))
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
        own, extended = members(diagram, stage)
        if not own and not extended:
            continue
        out.extend(_cluster(diagram, stage, own, "  "))
        if extended:
            out.extend(_cluster(diagram, "extended", extended, "    ", EXTENDED_IN[stage]))
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
