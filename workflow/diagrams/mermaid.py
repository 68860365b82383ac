"""Mermaid text for a diagram: a ``flowchart LR`` with a subgraph per stage.

Not a ``stateDiagram``: Mermaid's state diagrams cannot draw a transition
between states of two different composite states, and cannot dash one. The
layout mirrors the DOT one: stay-put events and clocks inside the state's box,
a dashed loop for the clocks, dotted arrows ending in a cross for edges that
are always refused.
"""

from __future__ import annotations

from workflow.diagrams import (
    EVENT,
    EXTENDED_IN,
    NODE_FILL,
    ORDER,
    REFUSED,
    STAGE_FILL,
    STAGES,
    TIMER,
    Diagram,
    Line,
    members,
)
from workflow.vocabulary import NEW

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


def _mmd_group(diagram: Diagram, stage: str, states: list[str], indent: str, suffix: str = "") -> list[str]:
    name = stage.replace(" ", "_").replace("-", "_") + (f"_{suffix}" if suffix else "") + "_group"
    return [
        f'{indent}subgraph {name}["{stage}"]',
        f"{indent}  style {name} fill:{STAGE_FILL[stage]},stroke:#b8b8b8",
        *(f"{indent}  {_mmd_node(diagram, s)}" for s in states),
    ]


def to_mermaid(diagram: Diagram) -> str:
    """A Mermaid flowchart (stateDiagram cannot join states of two composite states, nor dash a transition)."""
    out = ["---", f'title: "{_mmd(diagram.title)}"', "---", "flowchart LR"]
    if NEW in diagram.states:
        out.append(f'  {NEW}(("new"))')
    for stage in STAGES:
        if stage == "extended":
            continue
        own, extended = members(diagram, stage)
        if not own and not extended:
            continue
        out.extend(_mmd_group(diagram, stage, own, "  "))
        if extended:
            out.extend(_mmd_group(diagram, "extended", extended, "    ", EXTENDED_IN[stage]))
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
    for mark, fill in NODE_FILL.items():
        marked = [s for s, m in diagram.highlight.items() if m == mark]
        if marked:
            out.append(f"  classDef {mark} fill:{fill},stroke:#333,stroke-width:{3 if mark == 'current' else 1}px")
            out.append(f"  class {','.join(sorted(marked, key=lambda s: ORDER.get(s, 99)))} {mark}")
    return "\n".join(out) + "\n"
