"""The canonical JSON form and the event hash (workflow/canonical.py): RFC 8785 exactly, fixed by example."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.canonical import GENESIS, HASHED_FIELDS, canonical_json, event_content, event_hash, instant_text

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
    # The README's worked example: anyone can recompute it with sha256sum.
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
