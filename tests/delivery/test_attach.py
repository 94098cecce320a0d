"""Attaching a transport: the `resume` parameter, and catch-up before live."""

from __future__ import annotations

import pytest

from channelstream import operations
from channelstream.delivery.attach import attach, detach, parse_resume
from channelstream.delivery.hub import DIRECT
from channelstream.errors import BadRequest
from tests.support.memory import RecordingTransport, connect, make_state


def test_resume_names_channels_and_the_direct_stream() -> None:
    assert parse_resume(None) == {} and parse_resume("") == {}
    assert parse_resume('{"channels": {"a": ["e", 3]}, "direct": ["d", 0]}') == {
        "a": ("e", 3),
        DIRECT: ("d", 0),
    }


BAD_POSITION = ["Must be [epoch, offset]."]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{", {"resume": ["Not valid JSON."]}),
        ("[]", {"resume": ["Must be an object."]}),
        ('{"channels": []}', {"resume": {"channels": ["Must be an object."]}}),
        ('{"channels": {"a": ["e"]}}', {"resume": {"channels.a": BAD_POSITION}}),
        (
            '{"channels": {"a": ["e", -1]}}',
            {"resume": {"channels.a": BAD_POSITION}},
        ),
        (
            '{"channels": {"a": ["e", true]}}',
            {"resume": {"channels.a": BAD_POSITION}},
        ),
        ('{"direct": [1, 2]}', {"resume": {"direct": BAD_POSITION}}),
    ],
)
def test_a_malformed_resume_is_a_400_naming_the_field(text: str, field: object) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_resume(text)
    assert caught.value.body == field


def test_an_unknown_connection_is_not_attached() -> None:
    state = make_state()
    assert attach(state, "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001", RecordingTransport(), {}) is None
    assert state.hub.connections == {}


def test_resume_for_a_channel_the_connection_is_not_in_is_ignored() -> None:
    state = make_state()
    conn_id = connect(state, "alice", ["a"])
    transport = RecordingTransport()
    local = attach(state, conn_id, transport, {"elsewhere": ("e", 1)})
    assert local is not None and "elsewhere" not in local.positions
    assert transport.received == []


def test_detach_saves_what_was_sent_for_the_next_attach() -> None:
    state = make_state()
    conn_id = connect(state, "alice", ["a"])
    transport = RecordingTransport()
    local = attach(state, conn_id, transport, {})
    assert local is not None
    published = operations.publish_messages(
        state,
        [
            {
                "channel": "a",
                "user": "u",
                "message": {},
                "pm_users": [],
                "exclude_users": [],
                "no_history": False,
                "uuid": "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0002",
                "timestamp": "2026-01-01T00:00:00",
            }
        ],
    )
    detach(state, local)
    saved = state.engine.get_connection(conn_id)
    assert saved is not None and saved.positions["a"] == (published[0]["epoch"], 1)
    assert conn_id not in state.hub.connections
