"""Checking one stored case: its hash chain, its replay, and the replay against the snapshot and deadline rows.

Every problem names the case and the sequence number it was found at, so an
auditor can go straight to the row. Nothing here writes: the replay is
``workflow.audit.history.fold`` over the stored events, with their recorded times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.audit.checkpoint import Seen, seen
from storage.audit_reads import DeadlineRow, StoredCase
from workflow.audit.canonical import GENESIS, chain_hash
from workflow.audit.history import fold_into, new_case
from workflow.case import Case, Deadline
from workflow.catalog import Catalog
from workflow.errors import EventRefused, UnknownEvent, UnknownPolicy

# Snapshot fields compared with the replay, in the order problems are reported.
SNAPSHOT_FIELDS = (
    "state",
    "closure_reason",
    "version",
    "breaches",
    "deadlines",
    "policy_id",
    "policy_version",
    "opened_at",
    "last_occurred_at",
    "received",
    "handlers",
    "acknowledged_stages",
    "update_clock_stages",
)


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold, at one event of one case."""

    case_id: str
    seq: int | None
    code: str  # sequence_gap | chain_broken | hash_mismatch | event_policy | replay_refused | state_differs | ...
    detail: str

    def line(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "seq -"
        return f"case {self.case_id} {where}: {self.code}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "seq": self.seq, "code": self.code, "detail": self.detail}


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_chain(stored: StoredCase) -> list[Problem]:
    """Sequence numbers 1..n without gaps, each ``prev_hash`` the hash before it, each hash its content's."""
    out: list[Problem] = []
    case_id, policy = stored.id, (stored.row.policy_id, stored.row.policy_version)
    expected_seq, prev_hash, prev_seq = 1, GENESIS, 0
    for row in stored.events:
        seq = row.seq
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
            out.append(Problem(case_id, seq, "sequence_gap", f"event(s) {missing} missing before this one"))
        if row.prev_hash != prev_hash:
            before = f"seq {prev_seq}" if prev_seq else "the genesis value"
            out.append(Problem(case_id, seq, "chain_broken", f"prev_hash does not match the hash of {before}"))
        if row.hash != chain_hash(
            row.case_id,
            seq,
            row.name,
            row.data,
            row.occurred_text,
            row.recorded_text,
            row.actor,
            row.policy_id,
            row.policy_version,
            row.state_before,
            row.state_after,
            row.prev_hash,
        ):
            out.append(Problem(case_id, seq, "hash_mismatch", "the event's content does not match its hash"))
        if (row.policy_id, row.policy_version) != policy:
            out.append(Problem(case_id, seq, "event_policy", f"{row.policy_id}@{row.policy_version}, case {policy}"))
        expected_seq, prev_hash, prev_seq = seq + 1, row.hash, seq
    return out


def replay_stored(stored: StoredCase, catalog: Catalog) -> tuple[Case | None, list[Problem]]:
    """The case its events describe, checking each event's recorded states; None if it does not replay."""
    case_id = stored.id
    try:
        policy = catalog.get(stored.row.policy_id, stored.row.policy_version)
    except UnknownPolicy as err:
        return None, [Problem(case_id, None, "policy_missing", err.detail)]
    out: list[Problem] = []
    case = new_case(case_id, policy)
    for row in stored.events:  # history.replay's loop, with each event's recorded states checked on the way
        if row.occurred_at is None or row.recorded_at is None:
            column, text = (
                ("occurred_at", row.occurred_text) if row.occurred_at is None else ("recorded_at", row.recorded_text)
            )
            out.append(Problem(case_id, row.seq, "row_unreadable", f"{column} {text!r} is not an instant"))
            return None, out
        state_before, name = case.state, row.name
        try:
            fold_into(case, policy, name, row.data, row.occurred_at, row.recorded_at)
        except (EventRefused, UnknownEvent) as refusal:
            reasons = ", ".join(refusal.reasons) if isinstance(refusal, EventRefused) else refusal.code
            out.append(Problem(case_id, row.seq, "replay_refused", f"{name} is refused on replay: {reasons}"))
            return None, out
        if row.state_before != state_before or row.state_after != case.state:
            out.append(
                Problem(
                    case_id,
                    row.seq,
                    "state_differs",
                    f"{name} recorded {row.state_before} -> {row.state_after}, replay {state_before} -> {case.state}",
                )
            )
    return case, out


def compare_snapshot(stored: StoredCase, case: Case) -> list[Problem]:
    """The replayed case against the ``cases`` row, its snapshot, and the ``deadlines`` rows.

    Each part is compared whole first (a clean store is the common case); the field-by-field
    comparison that names what differs runs only for a part that does not hold.
    """
    out: list[Problem] = []
    row, case_id = stored.row, stored.id
    last_seq = stored.events[-1].seq if stored.events else None
    replayed = case.to_dict()
    snapshot = row.snapshot if isinstance(row.snapshot, dict) else {}
    if snapshot != replayed:
        for name in SNAPSHOT_FIELDS:
            if snapshot.get(name) != replayed.get(name):
                if name == "deadlines":
                    out.extend(_deadline_problems(case_id, "snapshot", snapshot.get(name) or [], case.deadlines))
                else:
                    detail = (
                        f"snapshot {name} is {_short(snapshot.get(name))}, replay gives {_short(replayed.get(name))}"
                    )
                    out.append(Problem(case_id, last_seq, "snapshot_differs", detail))
    columns = (case.policy_id, case.policy_version, case.state, case.closure_reason, case.version, len(case.breaches))
    if row[1:7] != columns:  # CaseRow: id, then these six columns in this order
        for name, found, expected in zip(_CASE_COLUMNS, row[1:7], columns, strict=True):
            if found != expected:
                detail = f"cases.{name} is {_short(found)}, replay gives {_short(expected)}"
                out.append(Problem(case_id, last_seq, "case_row_differs", detail))
    if [_deadline_columns(d) for d in case.deadlines] != [r[1:] for r in stored.deadlines]:
        rows = [_row_dict(r) for r in stored.deadlines]
        out.extend(_deadline_problems(case_id, "deadlines row", rows, case.deadlines))
    return out


_CASE_COLUMNS = ("policy_id", "policy_version", "state", "closure_reason", "version", "breach_count")


def _deadline_columns(d: Deadline) -> tuple[object, ...]:
    """A replayed deadline as its ``deadlines`` row holds it (``DeadlineRow`` after the case id)."""
    return (d.number, d.kind, d.stage, d.due, d.breach_at, d.status, d.opened_seq, d.closed_seq)


def _row_dict(row: DeadlineRow) -> dict[str, Any]:
    return {
        "number": row.number,
        "kind": row.kind,
        "stage": row.stage,
        "due": row.due.isoformat() if row.due is not None else None,
        "status": row.status,
        "opened_seq": row.opened_seq,
        "closed_seq": row.closed_seq,
        "breach_at": row.breach_at.isoformat() if row.breach_at is not None else None,
    }


def _deadline_problems(
    case_id: str, where: str, stored: list[dict[str, Any]], replayed: list[Deadline]
) -> list[Problem]:
    out: list[Problem] = []
    by_number = {d.get("number"): d for d in stored}
    for deadline in replayed:
        expected = deadline.to_dict()
        expected["breach_at"] = deadline.breach_at.isoformat()
        found = by_number.pop(deadline.number, None)
        seq = deadline.closed_seq or deadline.opened_seq
        if found is None:
            detail = f"{where} {deadline.number} ({deadline.kind} due {deadline.due}) is missing"
            out.append(Problem(case_id, seq, "deadline_differs", detail))
            continue
        diffs = [
            f"{k} {found[k]!r} (replay {expected[k]!r})" for k in found if k in expected and found[k] != expected[k]
        ]
        if diffs:
            detail = f"{where} {deadline.number} ({deadline.kind}): " + ", ".join(diffs)
            out.append(Problem(case_id, seq, "deadline_differs", detail))
    for number, extra in by_number.items():
        detail = f"{where} {number} ({extra.get('kind')}) is not in the replay"
        out.append(Problem(case_id, extra.get("opened_seq"), "deadline_differs", detail))
    return out


def _replay_and_compare(stored: StoredCase, catalog: Catalog) -> list[Problem]:
    case, problems = replay_stored(stored, catalog)
    if case is not None:
        problems.extend(compare_snapshot(stored, case))
    if not stored.events:
        problems.append(Problem(stored.id, None, "no_events", "the case has no events"))
    return problems


def verify_case(stored: StoredCase, catalog: Catalog) -> list[Problem]:
    """Every problem with one case (empty: chain intact, and replay equals the store)."""
    return check_chain(stored) + _replay_and_compare(stored, catalog)


def verify_against(
    stored: StoredCase, catalog: Catalog, known: Seen | None, record: bool = True
) -> tuple[list[Problem], Seen | None, bool]:
    """``verify_case`` given what a checkpoint recorded: (problems, what to record now, whether it was replayed).

    The chain is always re-hashed, and the event at the recorded version must still carry the recorded
    head hash. A case whose head, version and stored state are all as recorded holds exactly what was
    replayed and found equal last time, so it is not replayed again. Without ``record`` (no checkpoint
    to write) nothing is recorded, and the state digest is not computed.
    """
    problems = check_chain(stored)
    now: Seen | None = None  # the stored rows as they are: worked out once, compared, then recorded
    if known is not None:
        at = next((row for row in stored.events if row.seq == known.version), None)
        if at is None or at.hash != known.head_hash:
            detail = f"event {known.version} is not the one the checkpoint recorded (hash {known.head_hash[:16]}...)"
            problems.append(Problem(stored.id, known.version, "history_rewritten", detail))
        if not problems:
            now = seen(stored)
            if now == known:
                return problems, known, False
    problems.extend(_replay_and_compare(stored, catalog))
    if problems or not record:
        return problems, None, True
    return problems, (now if now is not None else seen(stored)), True
