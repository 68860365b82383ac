"""Writes docs/examples/legacy-complaints.csv: a legacy system's export of open and closed complaints.

    .venv/bin/python docs/examples/make_example.py [--out FILE] [--per-pair 1] [--cases N] [--seed 14]

Each case is a seeded random walk through its policy's machine (workflow/, no
database): the time moves on, due deadlines fire as the service would fire
them, and an allowed client event with plausible data is taken. Walks are kept
until every state has a case under every shipped policy (``--per-pair`` each),
then more random walks fill the file up to ``--cases``. Only client events
are written: deadlines and breaches are the importer's to find again. The
rows come out sorted by time, cases interleaved, as an old system's event
table would be.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from workflow.audit.history import new_case  # noqa: E402
from workflow.catalog import shipped  # noqa: E402
from workflow.engine import apply, decide, due_deadlines, passing_data  # noqa: E402
from workflow.errors import EventRefused  # noqa: E402
from workflow.vocabulary import CLIENT_EVENTS, DEADLINE_PASSED, LETTER_FIELDS, STATES  # noqa: E402

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
END = datetime(2026, 11, 30, 17, tzinfo=UTC)  # every event before this; tests import at a later instant
OUT = Path(__file__).with_name("legacy-complaints.csv")


def data_for(event: str, at: datetime, rng: random.Random) -> dict[str, Any]:
    """Data the policy should accept for ``event`` (sometimes it still refuses: the walk tries another)."""
    today = at.date()
    letter = dict.fromkeys(LETTER_FIELDS, "as discussed")
    return {
        "log_formal": {"requested_by": "customer"},
        "resolve_informally": {"summary": "fixed on the day"},
        "acknowledge": {
            "handler": rng.choice(["amy", "ben", "cara"]),
            "handler_role": "director",
            "handler_department": "executive",
            "complaint_definition": "damp in the bathroom",
            "outcomes_sought": "repair",
        },
        "decline": {"reason": "out_of_time", "explanation": "more than a year after"},
        "add_issue": {"description": "the fence too"},
        "extend": {
            "new_due": (today + timedelta(days=rng.randint(8, 20))).isoformat(),
            "reason": "survey needed",
            "customer_agreed": True,
            "ombudsman_details_given": True,
            "good_reason": True,
        },
        "respond": letter,
        "request_escalation": {"requested_by": "customer", "reasons": "not fixed"},
        "refuse_escalation": {"reason": "no_new_information", "explanation": "answered in full"},
        "close": {"summary": "no escalation asked"},
        "withdraw": {"summary": "tenant withdrew"},
        "record_update": {"summary": "contractor booked"},
        "refer_to_ombudsman": {"via_designated_person": False},
    }.get(event, {})


def walk(policy: Any, ref: str, rng: random.Random, target: str | None) -> tuple[str, list[dict[str, Any]]]:
    """One case's client events (as rows) and the state it ends in."""
    at = START + timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 7))
    receive = {
        "channel": rng.choice(["phone", "email", "web"]),
        "incident_date": (at.date() - timedelta(days=rng.randint(1, 30))).isoformat(),
        "formal": rng.random() < 0.7,
    }
    case = apply(new_case(ref, policy), policy, "receive", receive, at, at)
    rows = [_row(ref, policy, "receive", at, receive)]
    for _ in range(rng.randint(1, 12)):
        if case.state == target or case.state in ("closed", "ombudsman_referred") and target is None:
            break
        at += timedelta(days=rng.choice([0, 1, 2, 3, 5, 8, 13]), hours=rng.randint(0, 6))
        if at >= END:
            break
        while due := due_deadlines(case, at):
            case = apply(case, policy, DEADLINE_PASSED, passing_data(due[0]), due[0].breach_at, at, from_client=False)
        options = [e for e in CLIENT_EVENTS if e != "receive"]
        rng.shuffle(options)
        for event in options:
            data = data_for(event, at, rng)
            if not decide(case, policy, event, data, at, at).allowed:
                continue
            try:
                case = apply(case, policy, event, data, at, at)
            except EventRefused:
                continue
            rows.append(_row(ref, policy, event, at, data))
            break
    return case.state, rows


def _row(ref: str, policy: Any, event: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_ref": ref,
        "policy": policy.ref,
        "event": event,
        "occurred_at": at.isoformat(),
        "actor": "legacy",
        "data": json.dumps(data, sort_keys=True),
    }


def generate(cases: int = 54, per_pair: int = 1, seed: int = 14) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    policies = list(shipped().all())
    got: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    n = 0
    for policy in policies:
        for state in STATES:
            for _attempt in range(400):
                if got.get((policy.ref, state), 0) >= per_pair:
                    break
                ref = f"HMS-{n + 1:05d}"
                ended, case_rows = walk(policy, ref, rng, state)
                if ended == state:
                    got[(policy.ref, state)] = got.get((policy.ref, state), 0) + 1
                    rows += case_rows
                    n += 1
    while n < cases:
        policy = rng.choice(policies)
        ref = f"HMS-{n + 1:05d}"
        rows += walk(policy, ref, rng, None)[1]
        n += 1
    rows.sort(key=lambda r: (r["occurred_at"], r["external_ref"]))
    return rows


def write(rows: list[dict[str, Any]], out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["external_ref", "policy", "event", "occurred_at", "actor", "data"])
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cases", type=int, default=54)
    parser.add_argument("--per-pair", type=int, default=1)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rows = generate(args.cases, args.per_pair, args.seed)
    write(rows, args.out)
    print(f"{len(rows)} rows, {len({r['external_ref'] for r in rows})} cases -> {args.out}")


if __name__ == "__main__":
    main()
