"""How much one API call may name: checked on the raw body, before any validation work.

``max_channels_per_call`` bounds the channels of one call (``channels``,
``channel_configs``, ``info.channels``, ``info.exclude_channels``, the keys of
``/channel_config``); ``max_users_per_message`` the users of one message (``pm_users``,
``exclude_users``). How many channels one connection may hold in all is a different bound
(``max_channels_per_connection``, with the limits of a later release).
"""

from __future__ import annotations

from typing import Any

from channelstream.cooperate import in_turns
from channelstream.errors import ValidationFailed
from channelstream.settings import Settings

CHANNEL_KEYS = ("channels", "channel_configs")
INFO_KEYS = ("channels", "exclude_channels")
USER_KEYS = ("pm_users", "exclude_users")
TURN = 1000


def _over(value: Any, limit: int) -> bool:
    return isinstance(value, (list, dict)) and len(value) > limit


def check_channels(body: Any, settings: Settings) -> None:
    """A /connect, /subscribe, /unsubscribe or /info body."""
    if not isinstance(body, dict):
        return  # the schema says what is wrong
    limit = settings.max_channels_per_call
    text = [f"At most {limit} channels in one call (max_channels_per_call)."]
    errors: dict[str, Any] = {key: text for key in CHANNEL_KEYS if _over(body.get(key), limit)}
    info = body.get("info")
    if isinstance(info, dict):
        info_errors = {key: text for key in INFO_KEYS if _over(info.get(key), limit)}
        if info_errors:
            errors["info"] = info_errors
    if errors:
        raise ValidationFailed(errors)


def check_channel_count(body: Any, settings: Settings) -> None:
    """A /channel_config body: {channel name: config}."""
    limit = settings.max_channels_per_call
    if _over(body, limit):
        raise ValidationFailed(
            {"_schema": [f"At most {limit} channels in one call (max_channels_per_call)."]}
        )


def check_messages(body: Any, settings: Settings) -> None:
    """A list of messages (publish, edit, delete)."""
    if not isinstance(body, list):
        return
    limit = settings.max_users_per_message
    text = [f"At most {limit} users in one message (max_users_per_message)."]
    errors: dict[str, Any] = {}
    # A turn for other clients every thousand items; a short list needs no generator.
    items = body if len(body) < TURN else in_turns(body, TURN)
    for index, item in enumerate(items):
        # Most messages name no users: two lookups, no comprehension (it cost 1.7% of a
        # publish). An empty or missing list is never over the limit.
        if isinstance(item, dict) and (item.get("pm_users") or item.get("exclude_users")):
            wrong = {key: text for key in USER_KEYS if _over(item.get(key), limit)}
            if wrong:
                errors[str(index)] = wrong
    if errors:
        raise ValidationFailed(errors)
