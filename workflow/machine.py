"""One flat ``transitions`` Machine per policy version, built from the policy.

The machine is the single definition of what can happen: the engine fires
events on it, the diagrams are drawn from it. It is built once per policy
version and shared by every case (``model=None``; a case is passed to
``Event.trigger`` directly), because a Machine per case costs memory and time
(pytransitions issue 434).

Conditions come in two kinds. A *route* picks between transitions of one
trigger from one state (``receive`` goes informal or formal; an
``escalation_window`` passing closes the case). A *guard* encodes a policy
rule and yields reason codes; the machine holds it as a condition too, so the
definition is complete, but the engine evaluates every guard itself first to
report all reasons at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine

from workflow import guards as g
from workflow.guards import EventContext, Guard
from workflow.policy import Policy
from workflow.vocabulary import NEW, STATES


class Route:
    """A named routing condition: True when this transition is the one meant."""

    def __init__(self, name: str, test: Callable[[EventContext], bool], label: str) -> None:
        self.__name__ = name
        self.test = test
        self.label = label

    def __call__(self, event_data: EventData) -> bool:
        return self.test(event_data.kwargs["ctx"])


class GuardCondition:
    """A policy rule as a transitions condition, named after the reason codes it yields."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.__name__ = guard.__name__

    def __call__(self, event_data: EventData) -> bool:
        ctx = event_data.kwargs["ctx"]
        # ``engine.decide`` has just evaluated every guard of this edge to collect all reasons; firing
        # after an allowed decision need not run them a second time.
        return ctx.guards_passed or not self.guard(ctx)


@dataclass(frozen=True)
class Edge:
    """One transition of the definition: what diagrams and the engine read."""

    trigger: str
    source: str
    dest: str | None  # None: internal, the state does not change
    routes: tuple[Route, ...] = ()
    guards: tuple[Guard, ...] = ()
    timer: str | None = None  # the deadline kind, for deadline_passed edges
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def target(self) -> str:
        return self.dest or self.source


def _kind_is(kind: str) -> Route:
    return Route(f"{kind}_passes", lambda ctx: ctx.data.get("deadline") == kind, f"{kind} passes")


def _policy_edges(policy: Policy) -> list[Edge]:
    informal = policy.informal is not None
    s1 = ["stage_1", "stage_1_extended"]
    s2 = ["stage_2", "stage_2_extended"]
    live = (["stage_0"] if informal else []) + [*s1, "stage_1_responded", "stage_2_requested", *s2]
    edges: list[Edge] = []

    def add(trigger: str, sources: list[str], dest: str | None, *, routes=(), guards=(), timer=None) -> None:
        for source in sources:
            edges.append(Edge(trigger, source, dest, tuple(routes), tuple(guards), timer))

    if informal:
        add("receive", [NEW], "stage_0", routes=[Route("informal", _goes_informal, "not formal")])
        add("log_formal", ["stage_0"], "stage_1")
        add("resolve_informally", ["stage_0"], "closed")
    add("receive", [NEW], "stage_1", routes=[Route("formal", lambda c: not _goes_informal(c), "formal")])
    ack_1 = [g.handler_is_subject, g.senior_handler_required, g.definition_missing]
    add("acknowledge", s1, None, guards=ack_1)
    add(
        "acknowledge",
        ["stage_2_requested"],
        "stage_2",
        guards=[
            g.handler_is_subject,
            g.senior_handler_required,
            g.stage_2_same_handler,
            g.stage_2_same_department,
            g.definition_missing,
        ],
    )
    add("decline", (["stage_0"] if informal else []) + s1, "closed", guards=[g.decline_reason_holds])
    add("add_issue", [*s1, *s2], None)
    extension = [
        g.not_acknowledged,
        g.new_due_invalid,
        g.extension_reason_missing,
        g.extension_too_long,
        g.extension_needs_agreement,
        g.ombudsman_details_missing,
    ]
    add("extend", s1, "stage_1_extended", guards=extension)
    add("extend", s2, "stage_2_extended", guards=extension)
    add("respond", s1, "stage_1_responded", guards=[g.letter_incomplete])
    add("respond", s2, "closed", guards=[g.letter_incomplete])
    asked = [g.not_requested_by_customer]
    add(
        "request_escalation",
        ["stage_1_responded"],
        "stage_2_requested",
        guards=[*asked, g.escalation_window_closed, g.escalation_reasons_required],
    )
    add(
        "request_escalation",
        s1,
        "stage_2_requested",
        guards=[*asked, g.stage_1_not_finished, g.escalation_reasons_required],
    )
    add(
        "request_escalation",
        ["closed"],
        "stage_2_requested",
        routes=[Route("closed_stage_1_final", lambda c: c.case.closure_reason == "stage_1_final", "closed at stage 1")],
        guards=[*asked, g.escalation_window_closed, g.escalation_reasons_required],
    )
    add("refuse_escalation", ["stage_2_requested"], "closed", guards=[g.refusal_ground_holds])
    add("close", ["stage_1_responded"], "closed")
    add("withdraw", live, "closed")
    add("record_update", live, None)
    add("refer_to_ombudsman", ["closed"], "ombudsman_referred", guards=[g.procedure_not_exhausted, g.ombudsman_wait])
    # Timers: moves first (transitions takes the first route that holds), then the plain record.
    if informal and policy.informal is not None and policy.informal.on_breach == "move_to_stage_1":
        add(
            "deadline_passed", ["stage_0"], "stage_1", routes=[_kind_is("informal_response")], timer="informal_response"
        )
    if policy.escalation.window is not None:
        add(
            "deadline_passed",
            ["stage_1_responded"],
            "closed",
            routes=[_kind_is("escalation_window")],
            timer="escalation_window",
        )
    add("deadline_passed", [*live, "closed", "ombudsman_referred"], None)
    return edges


def _goes_informal(ctx: EventContext) -> bool:
    return ctx.policy.informal is not None and ctx.data.get("formal") is not True


def _states(policy: Policy) -> list[str]:
    """Every state of DOMAIN.md, less stage_0 where the policy has no informal stage."""
    return [NEW, *(s for s in STATES if s != "stage_0" or policy.informal is not None)]


@dataclass
class PolicyMachine:
    """The machine of one policy version with the edge list it was built from."""

    policy: Policy
    machine: Machine
    edges: list[Edge]
    # (trigger, source) -> its edges in definition order: every event looks here, replay thousands a second
    _by_source: dict[tuple[str, str], tuple[Edge, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_source: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            by_source.setdefault((edge.trigger, edge.source), []).append(edge)
        self._by_source = {key: tuple(found) for key, found in by_source.items()}

    @property
    def states(self) -> list[str]:
        return list(self.machine.states)

    def route(self, trigger: str, ctx: EventContext) -> Edge | None:
        """The transition ``trigger`` would take from the case's state, guards aside.

        The same choice ``transitions`` makes when the event is fired (the first transition, in
        definition order, whose conditions hold), which ``engine.advance`` relies on.
        """
        for edge in self._by_source.get((trigger, ctx.case.state), ()):
            for test in edge.routes:
                if not test.test(ctx):
                    break
            else:
                return edge
        return None

    def fire(self, trigger: str, ctx: EventContext) -> bool:
        return bool(self.machine.events[trigger].trigger(ctx.case, ctx=ctx))


def build_machine(policy: Policy) -> PolicyMachine:
    edges = _policy_edges(policy)
    machine = Machine(
        model=None,
        states=_states(policy),
        initial=NEW,
        auto_transitions=False,
        send_event=True,
        name=policy.ref,
    )
    for edge in edges:
        conditions = [*edge.routes, *(GuardCondition(guard) for guard in edge.guards)]
        machine.add_transition(edge.trigger, edge.source, edge.dest, conditions=conditions or None)
    return PolicyMachine(policy, machine, edges)


_machines: dict[int, PolicyMachine] = {}


def machine_for(policy: Policy) -> PolicyMachine:
    """Built once per policy version per process.

    Keyed by the policy object's identity (the entry keeps the policy alive, so the id is never reused):
    hashing a frozen Policy on every event cost more than the rest of the lookup.
    """
    built = _machines.get(id(policy))
    if built is None or built.policy is not policy:
        built = _machines[id(policy)] = build_machine(policy)
    return built


def clear_machine_cache() -> None:
    """Forget every built machine (tests that check a rebuild gives the same definition)."""
    _machines.clear()
