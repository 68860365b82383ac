"""The committed ``diagrams/`` folder: what it must hold, generated from the shipped policies.

For each shipped policy version ``<id>-v<version>``: ``.dot`` (the Graphviz
source), ``.mmd`` (Mermaid) and ``.svg`` (drawn by ``dot``), plus a README
that embeds the Mermaid diagrams so they render on a code host. The freshness
test compares ``.dot``, ``.mmd`` and the README byte for byte; an SVG carries
the sha256 of the DOT it was drawn from, so a stale SVG fails on any Graphviz
version, and what it says (titles and texts, not the font-dependent
coordinates) is compared too when the local Graphviz is the one that drew it.
"""

from __future__ import annotations

from pathlib import Path

from api.render import render
from workflow.catalog import Catalog
from workflow.diagrams import policy_diagram
from workflow.diagrams.dot import to_dot
from workflow.diagrams.mermaid import to_mermaid
from workflow.policy import Policy

README_HEAD = """# Policy diagrams

Generated from the machine that runs the cases (`workflow/machine.py`), one
set per shipped policy version; do not edit by hand. Regenerate with

    complaints diagram --regenerate diagrams/

and `tests/unit/test_diagram_files.py` fails while a file here differs from
what the code generates.

How to read them:

- **States** are grouped under the six stage names (stage 0, stage 1,
  extended, stage 2, closed, ombudsman-referred); in the SVGs an extended
  state sits in a tinted box inside its own stage and carries the word
  "extended" above its name. The black dot (`new`) is the start: a case comes
  into being with `receive`.
- **Solid arrows** are events a client sends, labelled with the conditions
  this policy checks (readable names of the guards; a guard the policy gives
  nothing to check, e.g. a role minimum the policy does not set, is left
  out). `-> reason` after an event into `closed` is the `closure_reason` it
  records.
- **Events that keep the state** (`acknowledge` at stage 1, `add_issue`,
  `extend` while extended, `record_update`) are listed inside the state's box
  under its name, with their conditions, as UML lists internal transitions.
- **Dashed orange** is `deadline_passed`, written by the scheduler. The
  dashed orange box inside a state lists the deadlines that can be running
  there, with their lengths in the policy's words: each passes without moving
  the case (the timer's self-loop, drawn inside the box; in Mermaid a dashed
  loop). `breach` marks an obligation whose passing is recorded as a breach,
  `window` a customer's window whose passing is not. A dashed arrow to another
  state is a deadline whose passing moves the case (an escalation window
  closing the case, an informal response moving it to stage 1). The machine
  accepts `deadline_passed` in every state but `new`; where no deadline of the
  policy can be running (e.g. `stage_1_responded` without an escalation
  window, `ombudsman_referred`) no box is drawn.
- **Dotted grey arrows ending in a bar** are edges the machine has only so
  that a refusal has a precise reason: their guard can never pass under this
  policy ("always refused: ..."), e.g. `request_escalation` from `stage_1`
  where the policy allows no early escalation (`stage_1_not_finished`), or
  `refuse_escalation` where the policy has no refusal grounds
  (`not_a_refusal_ground`). They are drawn, not hidden, because a client
  sending that event gets that reason.
- The Mermaid versions are flowcharts with one subgraph per stage: Mermaid's
  state diagrams cannot draw a transition between states of two different
  composite states, and have no dashed transitions.
"""


def stem(policy: Policy) -> str:
    return f"{policy.id}-v{policy.version}"


def expected_text_files(catalog: Catalog) -> dict[str, str]:
    """File name -> text, for everything in diagrams/ but the SVGs."""
    files: dict[str, str] = {}
    sections = [README_HEAD]
    for policy in catalog.all():
        diagram = policy_diagram(policy)
        files[f"{stem(policy)}.dot"] = to_dot(diagram)
        mermaid = to_mermaid(diagram)
        files[f"{stem(policy)}.mmd"] = mermaid
        sections.append(
            f"\n## {policy.ref}: {policy.name}\n\n"
            f"Source: {policy.source}. SVG: [{stem(policy)}.svg]({stem(policy)}.svg)\n\n"
            f"```mermaid\n{mermaid}```\n"
        )
    files["README.md"] = "".join(sections)
    return files


def regenerate(folder: Path, catalog: Catalog) -> list[Path]:
    """Write every diagram file into ``folder`` (SVGs need Graphviz); stale diagram files are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = expected_text_files(catalog)
    contents: dict[str, bytes] = {name: text.encode("utf-8") for name, text in texts.items()}
    for name, text in texts.items():
        if name.endswith(".dot"):
            contents[name.removesuffix(".dot") + ".svg"] = render(text, "svg")
    written = []
    for name, data in sorted(contents.items()):
        path = folder / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    for old in folder.iterdir():
        if old.suffix in (".dot", ".mmd", ".svg") and old.name not in contents:
            old.unlink()
    return written
