"""Schemas of connect, subscribe, user state, channel config, info and disconnect."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from channelstream.schemas.fields import (
    BaseSchema,
    Boolean,
    LowerUUID,
    channel_list,
    channel_name,
    state_dict,
    username,
)


class ChannelConfigSchema(BaseSchema):
    notify_presence = Boolean(load_default=False)
    store_history = Boolean(load_default=False)
    history_size = fields.Integer(load_default=10, validate=validate.Range(min=0))
    broadcast_presence_with_user_lists = Boolean(load_default=False)
    notify_state = Boolean(load_default=False)
    store_frames = Boolean(load_default=True)


class ChannelConfigChangesSchema(ChannelConfigSchema):
    """For /channel_config: only the keys sent change an existing channel."""

    notify_presence = Boolean()
    store_history = Boolean()
    history_size = fields.Integer(validate=validate.Range(min=0))
    broadcast_presence_with_user_lists = Boolean()
    notify_state = Boolean()
    store_frames = Boolean()


def channel_configs() -> fields.Dict:
    return fields.Dict(
        keys=channel_name(), values=fields.Nested(ChannelConfigSchema), load_default=dict
    )


class InfoSchema(BaseSchema):
    include_history = Boolean(load_default=True)
    include_users = Boolean(load_default=True)
    channels = channel_list(load_default=None, allow_none=True)
    exclude_channels = channel_list(load_default=list)
    include_connections = Boolean(load_default=False)
    return_public_state = Boolean(load_default=False)


_DEFAULT_INFO: dict[str, Any] | None = None


def default_info() -> dict[str, Any]:
    """InfoSchema's defaults, computed once (a fresh copy each time: callers may change it)."""
    global _DEFAULT_INFO
    if _DEFAULT_INFO is None:
        _DEFAULT_INFO = InfoSchema().load({})
    return {
        key: list(value) if isinstance(value, list) else value
        for key, value in _DEFAULT_INFO.items()
    }


class ConnectSchema(BaseSchema):
    username = username(required=True)
    conn_id = LowerUUID(load_default=None)
    channels = channel_list(load_default=list)
    channel_configs = channel_configs()
    fresh_user_state = state_dict()
    user_state = state_dict()
    # 0.7 replaced the public keys on every connect; an absent list clears them.
    state_public_keys = fields.List(
        fields.String(validate=validate.Length(min=1, max=256)), load_default=list
    )
    info = fields.Nested(InfoSchema, load_default=default_info)


class SubscribeSchema(BaseSchema):
    conn_id = LowerUUID(required=True)
    channels = channel_list(required=True, validate=validate.Length(min=1))
    channel_configs = channel_configs()
    info = fields.Nested(InfoSchema, load_default=default_info)


class UserStateSchema(BaseSchema):
    user = username(required=True)
    user_state = state_dict()
    # Absent or null keeps the public keys; a list (even empty) replaces them.
    state_public_keys = fields.List(
        fields.String(validate=validate.Length(min=1, max=256)),
        load_default=None,
        allow_none=True,
    )


class InfoBodySchema(BaseSchema):
    info = fields.Nested(InfoSchema, load_default=default_info)


class DisconnectSchema(BaseSchema):
    conn_id = LowerUUID(required=True)
