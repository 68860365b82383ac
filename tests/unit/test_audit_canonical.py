"""The canonical JSON form and the event hash (workflow/audit/canonical.py): RFC 8785 exactly, fixed by example."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.audit.canonical import (
    GENESIS,
    HASHED_FIELDS,
    canonical_json,
    chain_hash,
    event_content,
    event_hash,
    instant_text,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_the_fast_path_writes_exactly_what_rfc_8785_writes(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_floats_and_huge_integers_go_through_the_rfc_8785_encoder() -> None:
    assert canonical_json({"b": 1.5, "a": 1e21}) == b'{"a":1e+21,"b":1.5}'
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"n": 2**60})


def test_keys_are_sorted_without_whitespace_and_text_is_utf8() -> None:
    assert (
        canonical_json({"z": [1, True, None], "a": 'café\n"x"'}) == '{"a":"café\\n\\"x\\"","z":[1,true,null]}'.encode()
    )


def test_instants_are_utc_with_microseconds_and_z() -> None:
    bst = timezone(timedelta(hours=1))
    assert instant_text(datetime(2027, 6, 1, 10, 30, tzinfo=bst)) == "2027-06-01T09:30:00.000000Z"
    with pytest.raises(ValueError):
        instant_text(datetime(2027, 6, 1, 10, 30))


def _fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "case_id": "c-1",
        "seq": 1,
        "name": "receive",
        "data": {"incident_date": "2026-12-10", "formal": True},
        "occurred_at": datetime(2026, 12, 18, 10, tzinfo=UTC),
        "recorded_at": datetime(2026, 12, 18, 10, 0, 0, 250000, tzinfo=UTC),
        "actor": "cli",
        "policy_id": "b3living",
        "policy_version": 2,
        "state_before": "new",
        "state_after": "stage_1",
        "prev_hash": GENESIS,
    }
    fields.update(overrides)
    return fields


def test_the_hash_is_sha256_of_the_documented_canonical_text() -> None:
    # docs/auditors.md's worked example (The hash chain): anyone can recompute it with sha256sum.
    text = (
        '{"actor":"cli","case_id":"c-1","data":{"formal":true,"incident_date":"2026-12-10"},'
        '"name":"receive","occurred_at":"2026-12-18T10:00:00.000000Z","policy_id":"b3living",'
        '"policy_version":2,"prev_hash":"' + GENESIS + '","recorded_at":"2026-12-18T10:00:00.250000Z",'
        '"seq":1,"state_after":"stage_1","state_before":"new"}'
    )
    assert canonical_json(event_content(**_fields())) == text.encode()
    assert event_hash(**_fields()) == hashlib.sha256(text.encode()).hexdigest()
    assert set(event_content(**_fields())) == set(HASHED_FIELDS)


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"incident_date": "2026-12-11", "formal": True}},
        {"seq": 2},
        {"prev_hash": "1" * 64},
        {"occurred_at": datetime(2026, 12, 18, 10, 0, 0, 1, tzinfo=UTC)},
        {"state_after": "stage_0"},
        {"actor": "someone else"},
    ],
)
def test_any_change_to_a_hashed_field_changes_the_hash(change: dict[str, object]) -> None:
    assert event_hash(**_fields(**change)) != event_hash(**_fields())


# -- chain_hash: the positional form verify calls for every event, held to event_hash -----------------------------


def _chain(fields: dict[str, object]) -> str:
    """``chain_hash`` given the same columns as ``event_hash``, in ``HASHED_FIELDS`` order."""
    return chain_hash(*(fields[name] for name in HASHED_FIELDS))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"incident_date": "2026-12-10", "formal": True},
        {},
        {"amount": 12.5, "ratio": 1e21, "small": 1e-7, "negative_zero": -0.0, "whole": 3.0},
        {"\uffff": 1, "\U0001f600": 2, "é": 3, "a": 4},  # JCS sorts by UTF-16 units: 😀 before U+FFFF
        {"nested": {"b": [1, {"z": None, "a": [True, False]}], "a": []}, "list": [[], {}, ""]},
        {"edge": 2**53 - 1, "low": -(2**53) + 1},
        {"text": "Chaudière cassée", "quote": 'say "hi"\n\t\u2028', "emoji": "😀", "control": "\x00\x1f\x7f"},
        {"handler": "Zoë", "nested": ["ß", {"k": "日本語"}]},
    ],
    ids=[
        "plain",
        "empty",
        "floats",
        "non_ascii_keys",
        "nested",
        "safe_int_edges",
        "non_ascii_text",
        "non_ascii_nested",
    ],
)
def test_chain_hash_is_event_hash(data: dict[str, object]) -> None:
    """verify trusts chain_hash to recompute the stored hash: any difference would report clean rows as tampered."""
    fields = _fields(data=data)
    assert _chain(fields) == event_hash(**fields)


@pytest.mark.parametrize("data", [{"n": 2**53}, {"n": -(2**53)}, {"deep": [{"n": 2**60}]}])
def test_chain_hash_refuses_integers_beyond_2_53_as_event_hash_does(data: dict[str, object]) -> None:
    """No fast path may write an integer that RFC 8785 cannot: both refuse it alike."""
    fields = _fields(data=data)
    with pytest.raises(rfc8785.IntegerDomainError):
        event_hash(**fields)
    with pytest.raises(rfc8785.IntegerDomainError):
        _chain(fields)


@pytest.mark.parametrize(
    "change",
    [{"seq": 2**53 - 1}, {"policy_version": -(2**53) + 1}, {"seq": 0}, {"seq": 3.0}, {"policy_version": 2.0}],
)
def test_chain_hash_is_event_hash_for_edge_column_values(change: dict[str, object]) -> None:
    """Integer columns at the edge of the fast path's range, or holding a float (SQLite keeps what it is given)."""
    fields = _fields(**change)
    assert _chain(fields) == event_hash(**fields)


@pytest.mark.parametrize("change", [{"seq": 2**53}, {"policy_version": -(2**53)}])
def test_chain_hash_refuses_integer_columns_beyond_2_53_as_event_hash_does(change: dict[str, object]) -> None:
    """An edited sequence number or policy version out of JSON's range is refused, not hashed some other way."""
    fields = _fields(**change)
    with pytest.raises(rfc8785.IntegerDomainError):
        event_hash(**fields)
    with pytest.raises(rfc8785.IntegerDomainError):
        _chain(fields)


def test_chain_hash_is_event_hash_for_non_ascii_columns() -> None:
    """Text columns (actor, case id) are written by the fast encoder too: UTF-8, not escaped."""
    fields = _fields(actor="Zoë Ó'Brien", case_id="cas-é-😀", data={"reasons": "naïve"})
    assert _chain(fields) == event_hash(**fields)


@pytest.mark.parametrize(
    ("occurred_at", "recorded_at"),
    [
        (datetime(2026, 12, 18, 10, tzinfo=UTC), datetime(2026, 12, 18, 10, 0, 0, 250000, tzinfo=UTC)),
        (datetime(2026, 12, 18, 10, 0, 0, 1, tzinfo=UTC), datetime(2026, 12, 18, 10, 0, 0, 999999, tzinfo=UTC)),
        (
            datetime(2027, 6, 1, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
            datetime(2027, 6, 1, 0, 15, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        ),
    ],
    ids=["utc", "utc_microseconds", "offsets"],
)
def test_chain_hash_takes_instants_as_datetimes_or_their_canonical_text(
    occurred_at: datetime, recorded_at: datetime
) -> None:
    """Storage hands verify the canonical text (a slice of SQLite's); it must hash as the datetime does."""
    fields = _fields(occurred_at=occurred_at, recorded_at=recorded_at)
    expected = event_hash(**fields)
    as_text = {**fields, "occurred_at": instant_text(occurred_at), "recorded_at": instant_text(recorded_at)}
    mixed = {**fields, "recorded_at": instant_text(recorded_at)}
    assert _chain(fields) == _chain(as_text) == _chain(mixed) == expected


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(max_size=8), json_like, max_size=5) | json_like, actor=st.text(max_size=12))
def test_chain_hash_equals_event_hash_for_any_json_data(data: object, actor: str) -> None:
    """Whatever an event's data holds (or an edited row makes of it), chain_hash and event_hash agree."""
    fields = _fields(data=data, actor=actor)
    assert _chain(fields) == event_hash(**fields)
