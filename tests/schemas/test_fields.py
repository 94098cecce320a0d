"""Generated message ids are the random UUIDs 0.7 gave, in the same text form."""

from __future__ import annotations

import uuid

from channelstream.schemas.fields import new_uuid


def test_new_ids_are_canonical_version_4_uuids() -> None:
    for _ in range(2000):
        text = new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_new_ids_do_not_repeat_and_use_every_random_digit() -> None:
    ids = [new_uuid() for _ in range(5000)]
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
