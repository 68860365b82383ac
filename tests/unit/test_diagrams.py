"""Policy diagrams are drawn from the machine: every state and event is there, nothing the machine lacks is."""

from __future__ import annotations

import re

import pytest

from workflow.catalog import shipped
from workflow.diagrams import EVENT, REFUSED, TIMER, policy_diagram
from workflow.diagrams.dot import to_dot
from workflow.diagrams.labels import running_timers
from workflow.diagrams.mermaid import to_mermaid
from workflow.machine import clear_machine_cache, machine_for
from workflow.vocabulary import DEADLINE_PASSED, NEW

POLICIES = shipped().all()
IDS = [p.ref for p in POLICIES]
DOT_EDGE = re.compile(r'^  "([a-z_0-9]+)" -> "([a-z_0-9]+)" \[(.*)\];$', re.M)


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_every_state_and_every_event_of_the_machine_appears(policy) -> None:
    machine = machine_for(policy)
    dot, mmd = to_dot(policy_diagram(policy)), to_mermaid(policy_diagram(policy))
    for state in machine.states:
        assert f'"{state}"' in dot
        assert re.search(rf"^\s+{state}[\[(]", mmd, re.M), state
    for trigger in {e.trigger for e in machine.edges}:
        assert f"<B>{trigger}" in dot, trigger
        assert f"<b>{trigger}" in mmd, trigger


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_no_arrow_exists_that_the_machine_does_not_have(policy) -> None:
    machine = machine_for(policy)
    real = {(e.source, e.target, e.trigger) for e in machine.edges}
    diagram = policy_diagram(policy)
    for arrow in diagram.arrows:
        assert arrow.edges, arrow
        for edge in arrow.edges:
            assert (arrow.source, arrow.target, edge.trigger) in real
    # and what the DOT text draws between two states is exactly the diagram's arrows (loops of events sit inside)
    drawn = {(m[1], m[2]) for m in DOT_EDGE.finditer(to_dot(diagram))}
    expected = {(a.source, a.target) for a in diagram.arrows if a.source != a.target}
    assert drawn == expected
    assert drawn <= {(s, t) for s, t, _ in real}


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_every_machine_edge_is_drawn_or_accounted_for(policy) -> None:
    diagram = policy_diagram(policy)
    drawn = [e for a in diagram.arrows for e in a.edges]
    assert len(drawn) + len(diagram.undrawn) == len(machine_for(policy).edges)
    moving = {(e.source, e.timer) for e in machine_for(policy).edges if e.trigger == DEADLINE_PASSED and e.dest}
    for edge in diagram.undrawn:  # only timer loops where no deadline that stays put can be running
        assert edge.trigger == DEADLINE_PASSED and edge.dest is None
        assert [t for t in running_timers(policy)[edge.source] if (edge.source, t.kind) not in moving] == []


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_timers_appear_with_their_lengths_in_the_policys_words(policy) -> None:
    dot = to_dot(policy_diagram(policy))
    assert f"stage 1 acknowledgement: {policy.stage_1.acknowledgement}" in dot
    assert f"stage 1 response: {policy.stage_1.response} from {policy.stage_1.response_from}" in dot
    assert f"stage 2 acknowledgement: {policy.stage_2.acknowledgement}" in dot
    if policy.informal is not None:
        assert f"informal response: {policy.informal.response}" in dot
    if policy.escalation.window is not None:
        assert f"escalation window: {policy.escalation.window}" in dot
    if policy.ombudsman.wait is not None:
        assert f"ombudsman wait: {policy.ombudsman.wait}" in dot
    if policy.stage_1.update_interval is not None:
        assert f"stage 1 update: every {policy.stage_1.update_interval}" in dot


def test_the_words_of_the_seeds_reach_the_diagram() -> None:
    catalog = shipped()
    assert "escalation window: 4 weeks, late with a reason" in to_dot(policy_diagram(catalog.resolve("b3living@2")))
    assert "escalation window: 14 calendar days" in to_dot(policy_diagram(catalog.resolve("livin")))
    assert "ombudsman wait: 8 weeks" in to_mermaid(policy_diagram(catalog.resolve("livin")))


def test_timer_edges_are_dashed_and_a_moving_timer_is_an_arrow() -> None:
    diagram = policy_diagram(shipped().resolve("brighter_places"))
    moves = {(a.source, a.target) for a in diagram.arrows if a.style == TIMER and a.source != a.target}
    assert moves == {("stage_0", "stage_1"), ("stage_1_responded", "closed")}
    dot = to_dot(diagram)
    for source, target in moves:
        styles = [m[3] for m in DOT_EDGE.finditer(dot) if (m[1], m[2]) == (source, target)]
        assert any("style=dashed" in s and "deadline_passed" in s for s in styles)
    assert "-.->" in to_mermaid(diagram)


def test_edges_that_exist_only_to_be_refused_are_drawn_as_always_refused() -> None:
    code = policy_diagram(shipped().resolve("code_2024"))
    refused = {(a.source, a.target, *a.triggers) for a in code.arrows if a.style == REFUSED}
    assert refused == {
        ("stage_1", "stage_2_requested", "request_escalation"),
        ("stage_1_extended", "stage_2_requested", "request_escalation"),
    }
    brighter = policy_diagram(shipped().resolve("brighter_places"))
    assert ("stage_2_requested", "closed", "refuse_escalation") in {
        (a.source, a.target, *a.triggers) for a in brighter.arrows if a.style == REFUSED
    }
    assert "always refused: not_a_refusal_ground" in to_dot(brighter)
    # b3living allows an early escalation once the original response date has passed: a real edge
    b3 = policy_diagram(shipped().resolve("b3living@2"))
    early = [a for a in b3.arrows if (a.source, a.target) == ("stage_1", "stage_2_requested")]
    assert [a.style for a in early] == [EVENT]
    assert "original response date passed" in " ".join(line.text.strip() for a in early for line in a.lines)


def test_guards_a_policy_gives_nothing_to_check_are_left_out() -> None:
    code = to_dot(policy_diagram(shipped().resolve("code_2024")))
    livin = to_dot(policy_diagram(shipped().resolve("livin")))
    assert "unrelated department" not in code and "unrelated department" in livin
    assert "Ombudsman details given" in code and "Ombudsman details given" not in livin


def test_the_start_point_and_the_stage_groups() -> None:
    for policy in POLICIES:
        diagram = policy_diagram(policy)
        dot, mmd = to_dot(diagram), to_mermaid(diagram)
        assert f'"{NEW}" [shape=circle' in dot
        assert ("cluster_stage_0" in dot) == (policy.informal is not None)
        assert ("stage_0" in diagram.states) == (policy.informal is not None)
        for stage in ("stage 1", "extended", "stage 2", "closed", "ombudsman-referred"):
            assert f"<B>{stage}</B>" in dot
            assert f'["{stage}"]' in mmd
        assert "rankdir=LR" in dot and "flowchart LR" in mmd


def test_output_is_deterministic() -> None:
    for policy in POLICIES:
        clear_machine_cache()
        first = to_dot(policy_diagram(policy)), to_mermaid(policy_diagram(policy))
        clear_machine_cache()
        assert (to_dot(policy_diagram(policy)), to_mermaid(policy_diagram(policy))) == first
