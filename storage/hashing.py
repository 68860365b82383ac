"""Linking new event rows into their case's hash chain, as they are written.

The chain's definition (canonical JSON, SHA-256, the genesis value) is
``workflow/audit/canonical.py``; this module only finds the previous row's hash (one
indexed read on ``(case_id, seq)``, skipped for a case's first event) and
stamps ``prev_hash`` and ``hash`` on the rows about to be inserted, in the
command's own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from storage.tables import events
from workflow.audit.canonical import GENESIS, chain_hash, instant_text

_PREVIOUS = sa.select(events.c.hash).where(
    events.c.case_id == sa.bindparam("b_case"), events.c.seq == sa.bindparam("b_seq")
)


def previous_hash(connection: sa.Connection, case_id: str, seq: int) -> str:
    """The hash of event ``seq - 1`` of the case (the genesis value before the first)."""
    if seq <= 1:
        return GENESIS
    found = connection.execute(_PREVIOUS, {"b_case": case_id, "b_seq": seq - 1}).scalar_one_or_none()
    return found if found is not None else GENESIS  # a gap is verify's to report, not the writer's


def link(
    connection: sa.Connection, rows: Sequence[dict[str, Any]], known: Mapping[tuple[str, int], str] | None = None
) -> None:
    """Set ``prev_hash`` and ``hash`` on event rows of one case, given in ``seq`` order.

    ``known``: hashes already read, by (case id, seq) (the command read its case's chain head with the case).
    """
    prev: str | None = None
    for row in rows:
        if prev is None:
            prev = (known or {}).get((row["case_id"], row["seq"] - 1)) or previous_hash(
                connection, row["case_id"], row["seq"]
            )
        row["prev_hash"] = prev
        prev = row["hash"] = _row_hash(row, {})


def link_many(
    connection: sa.Connection, rows: Sequence[dict[str, Any]], known: Mapping[tuple[str, int], str] | None = None
) -> None:
    """``link`` for the rows of many cases at once (each case's rows in ``seq`` order): one read for the batch.

    The timers write a whole batch of fired cases in one transaction (``CaseRepository.save_fired``).
    ``known``: hashes already read, by (case id, seq); only the previous events not in it are read.
    """
    known = known or {}
    firsts = {row["case_id"]: row["seq"] for row in reversed(rows)}
    found: dict[str, str] = {}
    wanted = []
    for case_id, seq in firsts.items():
        if seq <= 1:
            continue
        head = known.get((case_id, seq - 1))
        if head is not None:
            found[case_id] = head
        else:
            wanted.append((case_id, seq - 1))
    for start in range(0, len(wanted), 500):
        found.update(connection.execute(_PREVIOUS_MANY, {"b_pairs": wanted[start : start + 500]}).all())
    prev: dict[str, str] = {}
    texts: dict[Any, str] = {}  # a batch shares a few instants (its stamp, a midnight): each formatted once
    for row in rows:
        row["prev_hash"] = prev.get(row["case_id"]) or found.get(row["case_id"], GENESIS)
        prev[row["case_id"]] = row["hash"] = _row_hash(row, texts)


def _row_hash(row: dict[str, Any], texts: dict[Any, str]) -> str:
    """``canonical.chain_hash`` of the row's ``HASHED_FIELDS`` (the same bytes as ``event_hash``, fewer copies).

    ``texts``: canonical texts of instants already formatted (equal instants have one text whatever their
    zone, and hash alike as keys).
    """
    return chain_hash(
        row["case_id"],
        row["seq"],
        row["name"],
        row["data"],
        _text(row["occurred_at"], texts),
        _text(row["recorded_at"], texts),
        row["actor"],
        row["policy_id"],
        row["policy_version"],
        row["state_before"],
        row["state_after"],
        row["prev_hash"],
    )


_PREVIOUS_MANY = sa.select(events.c.case_id, events.c.hash).where(
    sa.tuple_(events.c.case_id, events.c.seq).in_(sa.bindparam("b_pairs", expanding=True))
)


def _text(instant: Any, texts: dict[Any, str]) -> Any:
    if type(instant) is str:
        return instant
    found = texts.get(instant)
    if found is None:
        found = texts[instant] = instant_text(instant)
    return found
