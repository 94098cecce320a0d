"""The publish fast path answers exactly what MessageSchema answers, or defers to it."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from channelstream.schemas import fastpath
from channelstream.schemas.connections import ConnectSchema
from channelstream.schemas.messages import MessageSchema

names = st.one_of(
    st.text(min_size=0, max_size=3), st.text(min_size=250, max_size=260), st.just("x" * 513)
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    names,
    st.lists(names, max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(lambda u: str(u), st.uuids()),
    st.builds(lambda u: str(u).upper(), st.uuids()),
    st.just("2026-11-28T23:16:22.364259"),
)
keys = st.sampled_from(
    [
        "channel",
        "user",
        "message",
        "pm_users",
        "exclude_users",
        "no_history",
        "uuid",
        "timestamp",
        "other",
    ]
)
items = st.dictionaries(keys, values, max_size=9)


def schema_answer(item: Any) -> list[dict[str, Any]] | None:
    try:
        return MessageSchema().load([item], many=True)
    except ValidationError:
        return None


@settings(max_examples=600, deadline=None)
@given(items)
def test_fast_path_never_disagrees_with_the_schema(item: dict[str, Any]) -> None:
    fast = fastpath.messages([item])
    if fast is None:
        return  # the schema decides
    slow = schema_answer(item)
    assert slow is not None, item
    (f,), (s,) = fast, slow
    assert list(f) == list(s)
    for key in f:
        if key == "timestamp" or (key == "uuid" and "uuid" not in item):
            continue
        assert f[key] == s[key], key


def test_the_common_shape_takes_the_fast_path() -> None:
    given_uuid = str(uuid.uuid4()).upper()
    (fast,) = fastpath.messages(
        [{"channel": "c", "user": "u", "message": {"a": 1}, "uuid": given_uuid, "x": 1}]
    ) or [None]
    assert fast is not None
    assert fast["uuid"] == given_uuid.lower()
    assert fast["pm_users"] == [] and fast["no_history"] is False


def test_anything_unusual_defers_to_the_schema() -> None:
    for odd in (
        {"user": "u", "no_history": "true"},
        {"user": "u", "timestamp": "2026-11-28T23:16:22"},
        {"user": ""},
        {"channel": "c"},
        {"user": "u", "pm_users": None},
    ):
        assert fastpath.messages([odd]) is None, odd
    assert fastpath.messages({"user": "u"}) is None


connect_keys = st.sampled_from(
    [
        "username",
        "channels",
        "conn_id",
        "user_state",
        "fresh_user_state",
        "state_public_keys",
        "channel_configs",
        "info",
        "other",
    ]
)
state_dicts = st.dictionaries(st.text(max_size=3), values, max_size=3)
connect_bodies = st.dictionaries(connect_keys, st.one_of(values, state_dicts), max_size=9)


@settings(max_examples=600, deadline=None)
@given(connect_bodies)
def test_connect_fast_path_never_disagrees_with_the_schema(body: dict[str, Any]) -> None:
    fast = fastpath.connect(body)
    if fast is None:
        return
    try:
        slow = ConnectSchema().load(body)
    except ValidationError:
        raise AssertionError(f"fast path accepted what the schema refuses: {body}") from None
    assert fast == slow


def test_the_common_connect_takes_the_fast_path() -> None:
    body = {"username": "u", "channels": ["a", "b"], "user_state": {"x": 1}}
    assert fastpath.connect(body) == ConnectSchema().load(body)
    assert fastpath.connect({"username": "u", "info": {}}) is None
