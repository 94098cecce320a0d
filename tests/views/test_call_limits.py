"""What one call may name, checked on the raw body."""

from __future__ import annotations

import pytest

from channelstream.errors import ValidationFailed
from channelstream.views.call_limits import check_channel_count, check_channels, check_messages
from tests.support.memory import make_state

SETTINGS = make_state(max_channels_per_call=3, max_users_per_message=2).settings


def test_channels_named_by_a_call() -> None:
    check_channels({"channels": ["a", "b", "c"], "info": {"channels": ["a"]}}, SETTINGS)
    check_channels("not a dict", SETTINGS)  # the schema says what is wrong
    with pytest.raises(ValidationFailed) as refused:
        check_channels(
            {"channel_configs": dict.fromkeys("abcd", 1), "info": {"exclude_channels": "abcd"}},
            SETTINGS,
        )
    assert set(refused.value.body) == {"channel_configs"}  # a string is not a list
    with pytest.raises(ValidationFailed) as refused:
        check_channels({"info": {"channels": list("abcd")}}, SETTINGS)
    assert list(refused.value.body["info"]) == ["channels"]


def test_channel_config_bodies() -> None:
    check_channel_count(dict.fromkeys("abc", 1), SETTINGS)
    with pytest.raises(ValidationFailed):
        check_channel_count(dict.fromkeys("abcd", 1), SETTINGS)


def test_users_named_by_a_message() -> None:
    check_messages([{"pm_users": ["a", "b"]}, "odd", 5], SETTINGS)
    with pytest.raises(ValidationFailed) as refused:
        check_messages([{"pm_users": ["a"]}, {"exclude_users": ["a", "b", "c"]}], SETTINGS)
    assert list(refused.value.body) == ["1"]
    assert list(refused.value.body["1"]) == ["exclude_users"]


def test_users_are_counted_in_lists_and_objects_wherever_they_are() -> None:
    check_messages([{"pm_users": [], "exclude_users": None}, {"pm_users": "abc"}], SETTINGS)
    with pytest.raises(ValidationFailed) as refused:
        check_messages(
            [
                {"pm_users": ["a", "b", "c"], "exclude_users": []},
                {},
                {"pm_users": dict.fromkeys("abc", 1), "exclude_users": list("abc")},
            ],
            SETTINGS,
        )
    assert refused.value.body == {
        "0": {"pm_users": ["At most 2 users in one message (max_users_per_message)."]},
        "2": {
            "pm_users": ["At most 2 users in one message (max_users_per_message)."],
            "exclude_users": ["At most 2 users in one message (max_users_per_message)."],
        },
    }
