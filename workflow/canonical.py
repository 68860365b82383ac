"""The canonical JSON form of a stored event and the SHA-256 hash chain over it: defined here, once.

Tamper evidence (ARCHITECTURE.md, "The case and its history"): each event row
carries ``prev_hash`` (the ``hash`` of the case's previous event, or 64 zeros
for the first) and ``hash`` = SHA-256 of the canonical JSON of its content,
``prev_hash`` included. Editing, deleting or reordering a row breaks the chain
from that row on. The README (Audit) documents this form so that an auditor
can recompute every hash with any JSON Canonicalization Scheme (RFC 8785)
implementation and ``sha256sum``.

The form is RFC 8785 (JCS): keys sorted, no whitespace, UTF-8, strings escaped
as ECMAScript does. For the values events hold (strings, whole numbers within
+-2**53, booleans, null, lists, objects with ASCII keys) the standard library's
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` is
byte-for-byte the same and four times faster than a general JCS encoder, so we
use it there and hand anything else (a float, a huge integer) to ``rfc8785``.
Instants are written as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds:
what both SQLite and PostgreSQL keep).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = "0" * 64  # the prev_hash of a case's first event
HASHED_FIELDS: tuple[str, ...] = (
    "case_id",
    "seq",
    "name",
    "data",
    "occurred_at",
    "recorded_at",
    "actor",
    "policy_id",
    "policy_version",
    "state_before",
    "state_after",
    "prev_hash",
)
_SAFE_INT = 2**53 - 1
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def instant_text(instant: datetime) -> str:
    """An aware instant in the canonical form: UTC, microseconds, ``Z``."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no canonical form")
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _plain(value: Any) -> bool:
    """True when ``json.dumps`` writes ``value`` exactly as RFC 8785 does (subclasses take the slow path).

    Loops, not ``all()`` over generators: this runs for every event verified.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is dict:
        for key, item in value.items():
            # JCS sorts keys by UTF-16 code units, Python by code points: the same for ASCII keys (field names)
            if type(key) is not str or not key.isascii():
                return False
            if type(item) is not str and not _plain(item):  # strings inline: most values are
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110
            if not _plain(item):
                return False
        return True
    return False  # floats (ECMAScript number formatting) and anything exotic


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of a JSON value."""
    if _plain(value):
        return _dumps(value).encode("utf-8")
    return rfc8785.dumps(value)


def event_content(
    *,
    case_id: str,
    seq: int,
    name: str,
    data: dict[str, Any],
    occurred_at: datetime,
    recorded_at: datetime,
    actor: str,
    policy_id: str,
    policy_version: int,
    state_before: str,
    state_after: str,
    prev_hash: str,
) -> dict[str, Any]:
    """The object whose canonical JSON is hashed (exactly ``HASHED_FIELDS``)."""
    return {
        "case_id": case_id,
        "seq": seq,
        "name": name,
        "data": data,
        "occurred_at": instant_text(occurred_at),
        "recorded_at": instant_text(recorded_at),
        "actor": actor,
        "policy_id": policy_id,
        "policy_version": policy_version,
        "state_before": state_before,
        "state_after": state_after,
        "prev_hash": prev_hash,
    }


def content_hash(content: dict[str, Any]) -> str:
    """Lower-case hex SHA-256 of the canonical JSON of ``content``."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def event_hash(**fields: Any) -> str:
    """The ``hash`` of one event row given its columns (``HASHED_FIELDS``)."""
    return content_hash(event_content(**fields))


def row_hash(row: Any) -> str:
    """The hash an event row (an SQLAlchemy row, or any mapping of ``HASHED_FIELDS``) should carry."""
    mapping = getattr(row, "_mapping", row)
    return event_hash(**{name: mapping[name] for name in HASHED_FIELDS})
