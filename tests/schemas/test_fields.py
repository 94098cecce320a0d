"""Field types: generated message ids (the random UUIDs 0.7 gave, in the same text form),
how deep a message may nest, and 0.7.1's booleans."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from marshmallow import ValidationError

from channelstream.schemas import fastpath
from channelstream.schemas.fields import (
    MAX_NESTING,
    UUID_CHUNK,
    Boolean,
    new_uuid,
    new_uuids,
    within_nesting,
)
from channelstream.schemas.messages import MessageSchema


def test_new_ids_are_canonical_version_4_uuids() -> None:
    for _ in range(2000):
        text = new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_new_ids_do_not_repeat_and_use_every_random_digit() -> None:
    assert_random_and_distinct([new_uuid() for _ in range(5000)])


def assert_random_and_distinct(ids: list[str]) -> None:
    assert len(set(ids)) == len(ids)
    # Every random hex position takes several values: no digit is stuck by the bit masks.
    for position in range(36):
        seen = {text[position] for text in ids}
        if position in (8, 13, 18, 23):
            assert seen == {"-"}
        elif position == 14:
            assert seen == {"4"}
        elif position == 19:
            assert seen == set("89ab")
        else:
            assert len(seen) == 16, position


def test_ids_drawn_together_are_the_same_kind_and_as_many_as_asked() -> None:
    for count in (0, 1, 2, UUID_CHUNK - 1, UUID_CHUNK, UUID_CHUNK + 1, 3 * UUID_CHUNK + 5):
        ids = new_uuids(count)
        assert len(ids) == count
        for text in ids:
            parsed = uuid.UUID(text)
            assert str(parsed) == text
            assert parsed.version == 4
            assert parsed.variant == uuid.RFC_4122
    assert_random_and_distinct([text for _ in range(100) for text in new_uuids(50)])


def test_nesting_is_counted_in_objects_and_arrays() -> None:
    assert within_nesting({}, 1)
    assert within_nesting({"a": [1, {"b": 2}]}, 3)
    assert not within_nesting({"a": [1, {"b": 2}]}, 2)
    deepest: Any = {}
    for _ in range(MAX_NESTING - 1):
        deepest = {"a": deepest}
    assert within_nesting(deepest)
    assert not within_nesting({"a": deepest})


def test_a_payload_too_deep_is_refused_by_the_schema_and_left_to_it_by_the_fast_path() -> None:
    deep: Any = 1
    for _ in range(MAX_NESTING + 1):
        deep = [deep]
    item = {"channel": "c", "user": "u", "message": {"a": deep}}
    assert fastpath.messages([item]) is None
    with pytest.raises(ValidationError) as refused:
        MessageSchema().load([item], many=True)
    assert refused.value.messages == {
        0: {"message": [f"Nested more than {MAX_NESTING} levels deep."]}
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (1, True),
        (1.0, True),
        ("t", True),
        ("T", True),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        (False, False),
        (0, False),
        (0.0, False),
        ("f", False),
        ("F", False),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("0", False),
    ],
)
def test_booleans_as_marshmallow_2_took_them(value: Any, expected: bool) -> None:
    assert Boolean().deserialize(value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "y", "n", "TrUe", "", 2, [], None])
def test_other_booleans_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        Boolean().deserialize(value)
