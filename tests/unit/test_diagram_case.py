"""A case's diagram: its steps numbered on the arrows they took, breaches in red, its state highlighted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflow.audit.history import EventRecord, new_case
from workflow.catalog import shipped
from workflow.diagrams.dot import to_dot
from workflow.diagrams.mermaid import to_mermaid
from workflow.diagrams.overlays import PATH_COLOR, case_diagram
from workflow.engine import apply, due_deadlines, passing_data
from workflow.vocabulary import DEADLINE_PASSED, LETTER_FIELDS

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def _history(policy, steps):
    """Apply (days after START, event, data) in order, firing due deadlines first; the records as the store keeps."""
    case, records = new_case("c-1", policy), []

    def record(before, after, name, data, at):
        records.append(EventRecord("c-1", after.version, name, data, at, at, "t", before.state, after.state))

    for days, name, data in steps:
        at = START + timedelta(days=days)
        while due := due_deadlines(case, at):
            d = due[0]
            after = apply(case, policy, DEADLINE_PASSED, passing_data(d), d.breach_at, at, from_client=False)
            record(case, after, DEADLINE_PASSED, passing_data(d), d.breach_at)
            case = after
        after = apply(case, policy, name, data, at, at)
        record(case, after, name, data, at)
        case = after
    return case, records


def test_steps_are_numbered_breaches_marked_and_the_state_highlighted() -> None:
    policy = shipped().resolve("code_2024")
    ack = {"handler": "Ann", "handler_role": "manager", "complaint_definition": "damp"}
    case, records = _history(
        policy,
        [
            (0, "receive", {"incident_date": "2026-10-30"}),
            (9, "acknowledge", ack),  # after the 5 working days: the acknowledgement was breached first
            (12, "respond", dict.fromkeys(LETTER_FIELDS, "done")),
        ],
    )
    assert [r.name for r in records] == ["receive", DEADLINE_PASSED, "acknowledge", "respond"]
    diagram = case_diagram(policy, case, records)
    taken = [a for a in diagram.arrows if a.color == PATH_COLOR]
    assert {(a.source, a.target) for a in taken} == {
        ("new", "stage_1"),
        ("stage_1", "stage_1"),
        ("stage_1", "stage_1_responded"),
    }
    marks = {line.key: line.mark for a in taken for line in a.lines if line.mark}
    assert marks == {"receive": "[1]", "stage_1_acknowledgement": "[2]", "acknowledge": "[3]", "respond": "[4]"}
    breach = next(line for a in taken for line in a.lines if line.alert)
    assert "BREACHED (due 2026-11-09)" in breach.text
    assert diagram.highlight["stage_1_responded"] == "current" and diagram.highlight["stage_1"] == "visited"
    dot = to_dot(diagram)
    assert '"stage_1_responded" [label=' in dot and 'fillcolor="#ffd54f", penwidth=3' in dot
    assert "breached: stage 1 acknowledgement, due 2026-11-09" in dot
    assert "class stage_1_responded current" in to_mermaid(diagram)


def test_a_case_with_no_breach_says_so() -> None:
    policy = shipped().resolve("livin")
    case, records = _history(policy, [(0, "receive", {"incident_date": "2026-10-30"})])
    diagram = case_diagram(policy, case, records)
    assert diagram.highlight == {"new": "visited", "stage_0": "current"}
    assert "no deadline breached" in diagram.legend
