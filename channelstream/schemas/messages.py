"""Schemas of the message calls: publish, edit, delete. Bodies are lists of these."""

from __future__ import annotations

from typing import Any

from marshmallow import post_load

from channelstream.schemas.fields import (
    BaseSchema,
    Boolean,
    LowerUUID,
    Payload,
    Timestamp,
    channel_name,
    new_uuid,
    user_list,
    username,
    utc_now_iso,
)


class DeliverySchema(BaseSchema):
    """Where a message goes; these keys are never delivered to clients."""

    channel = channel_name(load_default=None, allow_none=True)
    pm_users = user_list()
    exclude_users = user_list()
    no_history = Boolean(load_default=False)


class MessageSchema(DeliverySchema):
    uuid = LowerUUID(load_default=new_uuid)
    timestamp = Timestamp(load_default=utc_now_iso)
    user = username(required=True)
    message = Payload(load_default=dict)


class MessageEditSchema(DeliverySchema):
    uuid = LowerUUID(required=True)
    timestamp = Timestamp()
    user = username()
    message = Payload()
    edited = Timestamp(load_default=utc_now_iso)

    @post_load
    def _drop_history_flag(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data.pop("no_history", None)
        return data


class MessageDeleteSchema(DeliverySchema):
    uuid = LowerUUID(required=True)

    @post_load
    def _drop_history_flag(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data.pop("no_history", None)
        return data
