"""Channel configs and user state, as 0.7 defined them."""

from __future__ import annotations

from channelstream.model.channel import CONFIG_KEYS, ChannelConfig
from channelstream.model.user import NO_STATE, User


def test_channel_config_defaults_are_0_7s_and_changes_skip_unknown_and_none() -> None:
    config = ChannelConfig()
    assert config.as_dict() == {
        "notify_presence": False,
        "store_history": False,
        "history_size": 10,
        "broadcast_presence_with_user_lists": False,
        "notify_state": False,
        "store_frames": True,
    }
    changed = config.updated({"store_history": True, "notify_state": None, "junk": 1})
    assert changed == ChannelConfig(store_history=True)
    assert config.updated(None) is config
    assert ChannelConfig(history_size=5000).capped(100).history_size == 100
    assert list(config.as_dict()) == list(CONFIG_KEYS)


def test_user_state_merges_and_reports_changes_as_0_7_did() -> None:
    user = User("alice", {"a": 1}, ["a"])
    assert user.merge_state({"a": 1, "b": None}) == [{"key": "b", "value": None}]
    assert user.merge_state({"a": 2}) == [{"key": "a", "value": 2}]
    assert user.public_state == {"a": 2}
    assert user.public_changes([{"key": "a", "value": 2}, {"key": "b", "value": 0}]) == [
        {"key": "a", "value": 2}
    ]
    copy = user.copy()
    copy.state["a"] = 3
    assert user.state["a"] == 2


def test_a_user_without_state_shares_the_empty_one_until_its_first_change() -> None:
    first, second = User("a", NO_STATE), User("b", NO_STATE)
    assert first.merge_state({}) == [] and first.state is NO_STATE
    assert first.merge_state({"x": 1}) == [{"key": "x", "value": 1}]
    assert first.state == {"x": 1} and NO_STATE == {} and second.state is NO_STATE
    copy = second.copy()
    copy.state["y"] = 2  # a copy's state is its own
    assert NO_STATE == {}
