"""What the calls take and answer, as TypedDicts: the server's JSON, typed, not copied.

Answers are returned as the server sent them (plain dicts), so a field a newer server adds
is there to read even before these types name it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

# A user state value: what channelstream stores for a key.
StateValue = str | int | float | bool | None


# -- what calls take ----------------------------------------------------------------
class ChannelConfig(TypedDict, total=False):
    notify_presence: bool
    store_history: bool
    history_size: int
    broadcast_presence_with_user_lists: bool
    notify_state: bool
    store_frames: bool


class InfoOptions(TypedDict, total=False):
    """What channel info to answer with (``info`` of /connect, /subscribe, /info)."""

    channels: list[str] | None
    exclude_channels: list[str]
    include_history: bool
    include_users: bool
    include_connections: bool
    return_public_state: bool


class Message(TypedDict, total=False):
    """One message to publish: a ``channel``, or ``pm_users`` for a direct message.

    The client fills ``uuid`` when it is missing, so that a retried publish names the same
    message."""

    channel: str | None
    pm_users: list[str]
    exclude_users: list[str]
    user: str
    message: dict[str, Any]
    no_history: bool
    uuid: str
    timestamp: str


class MessageEdit(TypedDict, total=False):
    """An edit of a published message: its ``uuid`` and where it went."""

    uuid: str
    channel: str | None
    pm_users: list[str]
    message: dict[str, Any]
    user: str
    timestamp: str
    edited: str


class MessageDelete(TypedDict, total=False):
    uuid: str
    channel: str | None
    pm_users: list[str]


# -- what calls answer --------------------------------------------------------------
class ChannelSettings(TypedDict):
    notify_presence: bool
    store_history: bool
    history_size: int
    broadcast_presence_with_user_lists: bool
    notify_state: bool
    store_frames: bool


class DeliveredMessage(TypedDict, total=False):
    """A message as clients receive it (and as channel history holds it)."""

    type: str
    uuid: str
    channel: str | None
    user: str
    message: dict[str, Any]
    timestamp: str
    catchup: bool
    edited: str | None
    offset: int
    epoch: str


class ChannelInfo(TypedDict, total=False):
    uuid: str
    name: str
    long_name: str | None
    settings: ChannelSettings
    history: list[DeliveredMessage]
    last_active: str
    total_connections: int
    total_users: int
    users: list[str]
    epoch: str
    offset: int


class UserInfo(TypedDict):
    user: str
    state: dict[str, StateValue]


class ChannelsInfo(TypedDict):
    """The answer of /info and /channel_config, and ``channels_info`` elsewhere."""

    channels: dict[str, ChannelInfo]
    users: list[UserInfo]


class ConnectResult(TypedDict):
    conn_id: str
    username: str
    state: dict[str, StateValue]
    public_state: dict[str, StateValue]
    channels: list[str]
    channels_info: ChannelsInfo


class SubscribeResult(TypedDict):
    channels: list[str]
    channels_info: ChannelsInfo
    subscribed_to: list[str]


class UnsubscribeResult(TypedDict):
    channels: list[str]
    channels_info: ChannelsInfo
    unsubscribed_from: list[str]


class StateChange(TypedDict):
    key: str
    value: StateValue


class UserStateResult(TypedDict):
    user_state: dict[str, StateValue]
    changed_state: list[StateChange]
    public_keys: list[str]


class PublishedMessage(TypedDict, total=False):
    """One accepted message of a publish, defaults filled."""

    type: str
    uuid: str
    channel: str | None
    pm_users: list[str]
    exclude_users: list[str]
    no_history: bool
    user: str
    message: dict[str, Any]
    timestamp: str
    catchup: bool
    edited: str | None
    offset: int
    epoch: str


class DeletedMessage(TypedDict, total=False):
    uuid: str
    channel: str | None
    pm_users: list[str]
    exclude_users: list[str]


class AdminUser(TypedDict):
    user: str
    state: dict[str, StateValue]
    connections: list[str]


class AdminInfo(TypedDict, total=False):
    """/admin/admin.json: the server's totals."""

    remembered_user_count: int
    unique_user_count: int
    total_connections: int
    total_channels: int
    total_messages: int
    total_unique_messages: int
    channels: dict[str, ChannelInfo]
    users: list[AdminUser]
    uptime: str
    uptime_seconds: int
    version: str


# -- webhooks -----------------------------------------------------------------------
WebhookEventName = Literal[
    "user_online",
    "user_offline",
    "channel_occupied",
    "channel_vacated",
    "user_joined",
    "user_parted",
]


class WebhookEvent(TypedDict, total=False):
    """One event of a webhook batch; ``id`` is stable across retries (drop repeats)."""

    name: str
    id: str
    time_ms: int
    user: str
    channel: str
