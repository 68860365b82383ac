"""The scenario runner (SCENARIOS.md): one case told step by step, checked after each step.

Each scenario runs on a fresh throwaway SQLite store, through the same
service code the HTTP API uses, with a manual clock. A malformed file is a
failure that names the file and the problem, never a crash.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from service.complaints import ComplaintService
from workflow.errors import ComplaintsError, EventRefused, UnknownPolicy

ServiceFactory = Callable[[str, datetime], tuple[ComplaintService, Callable[[datetime], None]]]

_TOP = {"name", "policy", "policy_version", "step"}
_STEP = {"at", "event", "data", "occurred_at", "expect"}
_EXPECT = {"state", "deadlines", "breaches", "closure_reason", "refused"}


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_EXPECT_TYPES: dict[str, Callable[[Any], bool]] = {
    "state": lambda v: isinstance(v, str),
    "closure_reason": lambda v: isinstance(v, str),
    "deadlines": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in (*v, *v.values())),
    "breaches": _strings,
    "refused": _strings,
}
_EXPECT_SHAPES = {
    "state": "must be a string",
    "closure_reason": "must be a string",
    "deadlines": 'must be a table of kind = "YYYY-MM-DD"',
    "breaches": "must be a list of strings",
    "refused": "must be a list of strings",
}


class Malformed(ValueError):
    pass


@dataclass
class Outcome:
    path: str
    name: str
    passed: bool
    failure: str | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        return f"PASS {self.name}" if self.passed else f"FAIL {self.name}: {self.failure}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "passed": self.passed, "failure": self.failure}


def _instant(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise Malformed(f"{where}: {value!r} is not an ISO 8601 instant") from None
    else:
        raise Malformed(f"{where}: expected an ISO 8601 instant, got {value!r}")
    if instant.tzinfo is None:
        raise Malformed(f"{where}: {value!r} has no UTC offset")
    return instant


def load(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise Malformed(f"cannot read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise Malformed(f"not valid TOML: {err}") from None
    unknown = set(raw) - _TOP
    if unknown:
        raise Malformed(f"unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "policy"):
        if not isinstance(raw.get(key), str):
            raise Malformed(f"'{key}' must be a string")
    if "policy_version" in raw and not isinstance(raw["policy_version"], int):
        raise Malformed("'policy_version' must be a whole number")
    steps = raw.get("step")
    if not isinstance(steps, list) or not steps:
        raise Malformed("no [[step]] given")
    previous: datetime | None = None
    for number, step in enumerate(steps, 1):
        where = f"step {number}"
        if not isinstance(step, dict):
            raise Malformed(f"{where}: not a table")
        if set(step) - _STEP:
            raise Malformed(f"{where}: unknown key(s) {', '.join(sorted(set(step) - _STEP))}")
        step["at"] = _instant(step.get("at"), f"{where}: at")
        if previous is not None and step["at"] < previous:
            raise Malformed(f"{where}: the clock moves backwards ({step['at'].isoformat()})")
        previous = step["at"]
        if "occurred_at" in step:
            step["occurred_at"] = _instant(step["occurred_at"], f"{where}: occurred_at")
        if "data" in step and not isinstance(step["data"], dict):
            raise Malformed(f"{where}: data must be a table")
        if ("data" in step or "occurred_at" in step) and "event" not in step:
            raise Malformed(f"{where}: data or occurred_at without an event")
        if "event" in step and not isinstance(step["event"], str):
            raise Malformed(f"{where}: event must be a string, got {step['event']!r}")
        expect = step.get("expect", {})
        if not isinstance(expect, dict) or set(expect) - _EXPECT:
            raise Malformed(f"{where}: expect may only hold {', '.join(sorted(_EXPECT))}")
        for key, value in expect.items():
            if not _EXPECT_TYPES[key](value):
                raise Malformed(f"{where}: expect.{key} {_EXPECT_SHAPES[key]}, got {value!r}")
    return raw


def run_scenario(path: Path, make_service: ServiceFactory) -> Outcome:
    try:
        raw = load(path)
    except Malformed as err:
        return Outcome(str(path), path.name, False, f"malformed {path}: {err}")
    name = raw["name"]
    policy = raw["policy"] + (f"@{raw['policy_version']}" if "policy_version" in raw else "")
    service, set_clock = make_service(name, raw["step"][0]["at"])
    try:  # a file under a policy that does not exist is malformed whatever its steps (none may open a case)
        service.catalog.resolve(policy)
    except UnknownPolicy as err:
        return Outcome(str(path), name, False, f"malformed {path}: {err.detail}")
    case_id = "scenario"
    opened = False
    outcome = Outcome(str(path), name, True)
    for number, step in enumerate(raw["step"], 1):
        set_clock(step["at"])
        if opened:
            service.fire_due(step["at"])
        refused: list[str] | None = None
        event = step.get("event")
        try:
            if event is None:
                pass
            elif not opened and event == "receive":
                service.open_case(policy, step.get("data", {}), step.get("occurred_at"), "scenario", case_id)
                opened = True
            elif not opened:
                return _fail(
                    outcome, number, f"the case does not exist yet: the first event must be receive, not {event}"
                )
            else:
                service.apply(case_id, event, step.get("data", {}), step.get("occurred_at"), "scenario")
        except EventRefused as refusal:
            refused = sorted(refusal.reasons)
        except ComplaintsError as err:
            return _fail(outcome, number, f"{err.code}: {err.detail}")
        problem = _check(service, case_id if opened else None, step.get("expect", {}), refused)
        if problem:
            return _fail(outcome, number, problem)
    if opened:
        outcome.timeline = [r.to_dict() for r in service.history(case_id)]
    return outcome


def _fail(outcome: Outcome, number: int, problem: str) -> Outcome:
    outcome.passed, outcome.failure = False, f"step {number}: {problem}"
    return outcome


def _check(service: ComplaintService, case_id: str | None, expect: dict[str, Any], refused: list[str] | None) -> str:
    if "refused" in expect:
        if refused is None:
            return f"refused: expected {sorted(expect['refused'])}, but the event was applied"
        if sorted(expect["refused"]) != refused:
            return f"refused: expected {sorted(expect['refused'])}, got {refused}"
    elif refused is not None:
        return f"the event was refused: {refused}"
    if case_id is None:
        return "no case to check" if set(expect) - {"refused"} else ""
    case = service.load(case_id)
    got: dict[str, Any] = {
        "state": case.state,
        "deadlines": case.open_deadlines_map(),
        "breaches": list(case.breaches),
        "closure_reason": case.closure_reason,
    }
    for key in ("state", "deadlines", "breaches", "closure_reason"):
        if key in expect and expect[key] != got[key]:
            return f"{key}: expected {expect[key]!r}, got {got[key]!r}"
    return ""


def scenario_files(paths: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        files.extend(sorted(path.rglob("*.toml")) if path.is_dir() else [path])
    return files


def throwaway_services(build: Callable[[str, Any], ComplaintService]) -> ServiceFactory:
    """A factory giving each scenario its own SQLite file in a temp dir, and a clock setter."""
    from workflow.clock import ManualClock

    tmp = tempfile.TemporaryDirectory(prefix="complaints-scenarios-")
    counter = iter(range(1_000_000))

    def make(_name: str, start: datetime) -> tuple[ComplaintService, Callable[[datetime], None]]:
        clock = ManualClock(start)
        url = f"sqlite:///{tmp.name}/scenario-{next(counter)}.db"
        return build(url, clock), clock.set

    make.tmp = tmp  # type: ignore[attr-defined]  # kept alive as long as the factory
    return make
