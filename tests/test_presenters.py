"""0.7's answers built from what engines report, once for every engine."""

from __future__ import annotations

from channelstream import operations, presenters
from channelstream.engine.base import ChannelSnapshot
from channelstream.model.channel import ChannelConfig
from channelstream.version import __version__
from tests.support.memory import connect, make_state


def test_channel_info_is_0_7s_shape_with_its_timestamp_format() -> None:
    snapshot = ChannelSnapshot(
        name="room",
        uuid="u-1",
        config=ChannelConfig(store_history=True),
        last_active=1_000.5,
        total_connections=3,
        users=["alice", "bob"],
        history=[{"type": "message"}],
        position=("e1", 7),
    )
    assert presenters.channel_info(snapshot) == {
        "uuid": "u-1",
        "name": "room",
        "long_name": None,
        "settings": ChannelConfig(store_history=True).as_dict(),
        "history": [{"type": "message"}],
        "last_active": "1970-01-01T00:16:40.500000",
        "total_connections": 3,
        "total_users": 2,
        "users": ["alice", "bob"],
        "epoch": "e1",
        "offset": 7,
    }


def test_channels_info_lists_the_users_found_with_their_state() -> None:
    state = make_state()
    connect(state, "bob", ["a"], fresh_user_state={"x": 1, "hidden": 2}, state_public_keys=["x"])
    connect(state, "alice", ["b"])
    everything = presenters.channels_info(state, None, exclude_channels=["b"])
    assert list(everything["channels"]) == ["a"]
    assert everything["users"] == [{"user": "bob", "state": {"x": 1, "hidden": 2}}]
    public = presenters.channels_info(state, ["a", "missing"], return_public_state=True)
    assert public["users"] == [{"user": "bob", "state": {"x": 1}}]
    hidden = presenters.channels_info(state, ["a"], include_users=False, include_history=False)
    assert hidden["channels"]["a"]["users"] == [] and hidden["users"] == []


def test_the_admin_summary() -> None:
    state = make_state()
    conn_id = connect(state, "alice", ["a"], fresh_user_state={"k": 1}, state_public_keys=["k"])
    connect(state, "gone", [])
    operations.collect_connection(state, state.engine.list_connections()[-1].conn_id)
    summary = presenters.admin_summary(state)
    assert summary["remembered_user_count"] == 2 and summary["unique_user_count"] == 1
    assert summary["total_connections"] == 1 and summary["total_channels"] == 1
    (alice,) = summary["users"]
    assert alice["uuid"] and alice == {
        "user": "alice",
        "state": {"k": 1},
        "uuid": alice["uuid"],
        "connections": [conn_id],
    }
    assert summary["uptime"] == "0:00:00" and summary["version"] == __version__


def test_health_says_whether_the_node_can_serve() -> None:
    body, ok = presenters.health(make_state())
    assert ok and body == {
        "status": "ok",
        "engine": {"ok": True, "engine": "memory"},
        "connections": 0,
    }
