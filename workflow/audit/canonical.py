"""The canonical JSON form of a stored event and the SHA-256 hash chain over it: defined here, once.

Tamper evidence (ARCHITECTURE.md, "The case and its history"): each event row
carries ``prev_hash`` (the ``hash`` of the case's previous event, or 64 zeros
for the first) and ``hash`` = SHA-256 of the canonical JSON of its content,
``prev_hash`` included. Editing, deleting or reordering a row breaks the chain
from that row on. docs/auditors.md ("The hash chain") documents this form so that an auditor
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
from json.encoder import c_make_encoder, encode_basestring
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


def _unserialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder behind ``_dumps``, made once: ``JSONEncoder.encode`` builds it anew on every call, which
# costs as much as the encoding itself when verify hashes every event of a store. Same settings.
_c_encoder = (
    c_make_encoder(None, _unserialisable, encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else None
)


def _encode(value: Any) -> str:
    return "".join(_c_encoder(value, 0)) if _c_encoder is not None else _dumps(value)


def instant_text(instant: datetime) -> str:
    """An aware instant in the canonical form: UTC, microseconds, ``Z``."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no canonical form")
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" off; no .replace (it is slow)


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
        return _encode(value).encode("utf-8")
    return rfc8785.dumps(value)


def event_content(
    *,
    case_id: str,
    seq: int,
    name: str,
    data: dict[str, Any],
    occurred_at: datetime | str,
    recorded_at: datetime | str,
    actor: str,
    policy_id: str,
    policy_version: int,
    state_before: str,
    state_after: str,
    prev_hash: str,
) -> dict[str, Any]:
    """The object whose canonical JSON is hashed (exactly ``HASHED_FIELDS``); instants may be their text."""
    return {
        "case_id": case_id,
        "seq": seq,
        "name": name,
        "data": data,
        "occurred_at": occurred_at if type(occurred_at) is str else instant_text(occurred_at),
        "recorded_at": recorded_at if type(recorded_at) is str else instant_text(recorded_at),
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


def chain_hash(
    case_id: str,
    seq: int,
    name: str,
    data: Any,
    occurred_at: datetime | str,
    recorded_at: datetime | str,
    actor: str,
    policy_id: str,
    policy_version: int,
    state_before: str,
    state_after: str,
    prev_hash: str,
) -> str:
    """``event_hash`` with the columns in ``HASHED_FIELDS`` order: the form verify calls for every event.

    An instant may be given as its canonical text already (storage has it for the price of a slice on
    SQLite; formatting a datetime costs more than hashing). When every value is plain, the object is
    written out key by key in sorted order (ASCII names: RFC 8785's order) with the C string encoder,
    and only ``data`` goes through the sorting encoder: half the time of encoding the whole dict. The
    same bytes as ``event_hash`` either way (tests/unit/test_audit_canonical.py).
    """
    if type(occurred_at) is not str:
        occurred_at = instant_text(occurred_at)
    if type(recorded_at) is not str:
        recorded_at = instant_text(recorded_at)
    if (
        _c_encoder is not None
        and type(data) is dict
        and type(seq) is int
        and type(policy_version) is int
        and -_SAFE_INT <= seq <= _SAFE_INT
        and -_SAFE_INT <= policy_version <= _SAFE_INT
        and _plain(data)
    ):
        s = encode_basestring
        try:
            text = (
                f'{{"actor":{s(actor)},"case_id":{s(case_id)},"data":{"".join(_c_encoder(data, 0))},'
                f'"name":{s(name)},"occurred_at":{s(occurred_at)},"policy_id":{s(policy_id)},'
                f'"policy_version":{policy_version},"prev_hash":{s(prev_hash)},"recorded_at":{s(recorded_at)},'
                f'"seq":{seq},"state_after":{s(state_after)},"state_before":{s(state_before)}}}'
            )
        except TypeError:
            pass  # a column that is not text: the general path below encodes it as it is
        else:
            return hashlib.sha256(text.encode("utf-8")).hexdigest()
    return event_hash(
        case_id=case_id,
        seq=seq,
        name=name,
        data=data,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        actor=actor,
        policy_id=policy_id,
        policy_version=policy_version,
        state_before=state_before,
        state_after=state_after,
        prev_hash=prev_hash,
    )
