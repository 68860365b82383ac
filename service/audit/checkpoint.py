"""Verify checkpoints: what a clean run saw, kept outside the database, so the next run can trust less and do less.

A checkpoint is a JSON file naming, for every case that verified clean, its
version, the hash of its last event (the chain's head) and a digest of its
stored state (the ``cases`` row, its snapshot and its deadline rows). It does
two jobs:

- **Anchor.** The hash chain alone cannot show that someone with write access
  rewrote a whole chain consistently. With a checkpoint kept where the
  database's writers cannot reach, the event at the recorded version must
  still carry the recorded head hash, or ``history_rewritten`` is reported.
- **Incremental nightly runs.** A case whose head, version and state digest
  are all as recorded holds exactly the events and state that were replayed
  and found equal last time; its chain is re-hashed (every row, to catch any
  edit) but it is not replayed again. Only new or changed cases are replayed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.audit_reads import StoredCase
from workflow.errors import ComplaintsError

FORMAT = 1
_stable_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class Seen:
    version: int
    head_hash: str
    state_digest: str


@dataclass
class Checkpoint:
    cases: dict[str, Seen] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """The checkpoint at ``path`` (empty when the file does not exist yet)."""
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT}")
            return cls({case_id: Seen(*entry) for case_id, entry in raw["cases"].items()})
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            raise CheckpointError(f"cannot read the checkpoint {path}: {err}") from None

    def save(self, path: Path) -> None:
        """Written whole to a temporary file, then renamed over ``path``: never half a checkpoint."""
        body = {"format": FORMAT, "cases": {k: [s.version, s.head_hash, s.state_digest] for k, s in self.cases.items()}}
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(body, separators=(",", ":"), sort_keys=True), encoding="utf-8")
        partial.replace(path)


class CheckpointError(ComplaintsError):
    """The checkpoint file is unreadable or not one of ours."""

    code = "invalid_checkpoint"


def state_digest(stored: StoredCase) -> str:
    """SHA-256 over the case row's columns, its snapshot and its deadline rows, as sorted-key compact JSON.

    Only this program compares digests, so they need to be stable, not RFC 8785: the standard library's
    sorted-key encoding is, at a fraction of the canonical form's cost (a nightly run digests every
    case). A digest that changes (a new way of computing it) only means the case is replayed again.
    """
    row = stored.row
    state: dict[str, Any] = {
        "row": [row.state, row.closure_reason, row.version, row.breach_count, row.policy_id, row.policy_version],
        "snapshot": row.snapshot,
        "deadlines": [
            [
                d.number,
                d.kind,
                d.stage,
                str(d.due),  # str: a row whose value did not read as a date is None, still digested
                str(d.breach_at),
                d.status,
                d.opened_seq,
                d.closed_seq,
            ]
            for d in stored.deadlines
        ],
    }
    return hashlib.sha256(_stable_json(state).encode("utf-8")).hexdigest()


def seen(stored: StoredCase) -> Seen | None:
    """What to record for a case that verified clean (None for a case without events)."""
    if not stored.events:
        return None
    last = stored.events[-1]
    return Seen(last.seq, last.hash, state_digest(stored))
