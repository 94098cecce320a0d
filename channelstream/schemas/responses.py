"""Response schemas: what each call answers. They only describe (for the OpenAPI document
at /openapi.json); the views build their answers themselves and never load or dump these."""

from __future__ import annotations

from marshmallow import fields

from channelstream.schemas.connections import ChannelConfigSchema
from channelstream.schemas.fields import BaseSchema, StateValue


def _state() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=StateValue(),
        metadata={"description": "User state: string, number, boolean or null values."},
    )


def _iso(description: str, **kwargs: object) -> fields.String:
    return fields.String(
        metadata={"description": description, "example": "2026-11-28T23:16:22.364259"},
        **kwargs,  # type: ignore[arg-type]
    )


class ChannelSettingsSchema(ChannelConfigSchema):
    """A channel's configuration, every key filled."""


class DeliveredMessageSchema(BaseSchema):
    """A message object as clients receive it (in a /ws frame, a /listen answer or history)."""

    type = fields.String(
        required=True,
        metadata={
            "description": "message, message:edit, message:delete, presence or user_state_change",
            "example": "message",
        },
    )
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    channel = fields.String(allow_none=True, metadata={"description": "null for a direct message"})
    user = fields.String()
    message = fields.Dict(metadata={"description": "The application's payload."})
    timestamp = _iso("When it was published: naive UTC ISO 8601.")
    catchup = fields.Boolean(metadata={"description": "true when replayed after a gap."})
    edited = _iso("When it was last edited, or null.", allow_none=True)
    state = fields.Dict(allow_none=True, metadata={"description": "presence: the public state"})
    users = fields.List(fields.Dict(), metadata={"description": "presence: the user list"})
    offset = fields.Integer(metadata={"description": "Position in the channel's stream."})
    epoch = fields.String(metadata={"description": "Identifies the stream's lifetime."})


class ChannelInfoSchema(BaseSchema):
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)
    long_name = fields.String(
        allow_none=True, metadata={"description": "Always null, as in 0.7.1."}
    )
    settings = fields.Nested(ChannelSettingsSchema, required=True)
    history = fields.List(
        fields.Nested(DeliveredMessageSchema),
        metadata={"description": "Stored messages, oldest first (with include_history)."},
    )
    last_active = _iso("Last activity in the channel.")
    total_connections = fields.Integer()
    total_users = fields.Integer()
    users = fields.List(fields.String(), metadata={"description": "Sorted user names."})
    epoch = fields.String()
    offset = fields.Integer()


class UserInfoSchema(BaseSchema):
    user = fields.String(required=True)
    state = _state()


class ChannelsInfoSchema(BaseSchema):
    """The answer of /info, /channel_config and `channels_info` elsewhere."""

    channels = fields.Dict(keys=fields.String(), values=fields.Nested(ChannelInfoSchema))
    users = fields.List(fields.Nested(UserInfoSchema))


class ConnectResponseSchema(BaseSchema):
    conn_id = fields.String(required=True, metadata={"format": "uuid"})
    username = fields.String(required=True)
    state = _state()
    public_state = _state()
    channels = fields.List(fields.String(), metadata={"description": "Sorted."})
    channels_info = fields.Nested(ChannelsInfoSchema)


class SubscribeResponseSchema(BaseSchema):
    channels = fields.List(fields.String(), metadata={"description": "All, sorted."})
    channels_info = fields.Nested(ChannelsInfoSchema)
    subscribed_to = fields.List(fields.String(), metadata={"description": "New ones, sorted."})


class UnsubscribeResponseSchema(BaseSchema):
    channels = fields.List(fields.String(), metadata={"description": "Still subscribed, sorted."})
    channels_info = fields.Nested(ChannelsInfoSchema)
    unsubscribed_from = fields.List(fields.String())


class StateChangeSchema(BaseSchema):
    key = fields.String(required=True)
    value = StateValue()


class UserStateResponseSchema(BaseSchema):
    user_state = _state()
    changed_state = fields.List(fields.Nested(StateChangeSchema))
    public_keys = fields.List(fields.String())


class PublishedMessageSchema(BaseSchema):
    """One accepted message of POST /message, defaults filled."""

    type = fields.String(metadata={"example": "message"})
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    channel = fields.String(allow_none=True)
    pm_users = fields.List(fields.String())
    exclude_users = fields.List(fields.String())
    no_history = fields.Boolean()
    user = fields.String()
    message = fields.Dict()
    timestamp = _iso("Naive UTC ISO 8601.")
    catchup = fields.Boolean()
    edited = _iso("null when new.", allow_none=True)
    offset = fields.Integer(metadata={"description": "Absent when it reached no stream."})
    epoch = fields.String()


class EditedMessageSchema(BaseSchema):
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    channel = fields.String(allow_none=True)
    pm_users = fields.List(fields.String())
    exclude_users = fields.List(fields.String())
    user = fields.String()
    message = fields.Dict()
    timestamp = _iso("Naive UTC ISO 8601.")
    edited = _iso("When the edit was made.")


class DeletedMessageSchema(BaseSchema):
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    channel = fields.String(allow_none=True)
    pm_users = fields.List(fields.String())
    exclude_users = fields.List(fields.String())


class AdminUserSchema(UserInfoSchema):
    uuid = fields.String(
        metadata={"format": "uuid", "description": "The user's own uuid, stable while known."}
    )
    connections = fields.List(fields.String(metadata={"format": "uuid"}))


class WebhookStateSchema(BaseSchema):
    """The webhook's state (docs/webhooks.md), the same on every node of a cluster."""

    enabled = fields.Boolean(metadata={"description": "channelstream.webhook_url is set."})
    url = fields.String(metadata={"description": "Without its query or credentials."})
    events = fields.List(fields.String())
    pending = fields.Integer(metadata={"description": "Events waiting to be sent."})
    dropped = fields.Integer(metadata={"description": "Events the cap dropped, in all."})
    sent = fields.Integer(metadata={"description": "Events delivered (2xx)."})
    failures = fields.Integer(metadata={"description": "Failed attempts, in all."})
    abandoned = fields.Integer(metadata={"description": "Events given up after retrying."})
    last_success = fields.String(allow_none=True)
    last_failure = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    failing_since = fields.String(
        allow_none=True, metadata={"description": "Since when the batch in flight fails."}
    )
    sender = fields.String(allow_none=True, metadata={"description": "The sender that sends."})
    this_node_sends = fields.Boolean()


class AdminSummarySchema(BaseSchema):
    remembered_user_count = fields.Integer()
    unique_user_count = fields.Integer(metadata={"description": "Users with a connection."})
    total_connections = fields.Integer()
    total_channels = fields.Integer()
    total_messages = fields.Integer(
        metadata={
            "description": "Deliveries of published messages to connections, as 0.7.1 "
            "counted them (presence, state changes, edits and deletes are not counted)."
        }
    )
    total_unique_messages = fields.Integer(metadata={"description": "Messages published."})
    channels = fields.Dict(keys=fields.String(), values=fields.Nested(ChannelInfoSchema))
    users = fields.List(fields.Nested(AdminUserSchema))
    uptime = fields.String(metadata={"example": "1:02:03"})
    uptime_seconds = fields.Integer()
    version = fields.String()
    webhook = fields.Nested(WebhookStateSchema)


class HealthSchema(BaseSchema):
    status = fields.String(metadata={"description": "ok or unavailable"})
    engine = fields.Dict()
    connections = fields.Integer(metadata={"description": "Sockets attached to this node."})


class RequestErrorSchema(BaseSchema):
    """400/401/403/404/413: {"request": ...} or {field: [messages]}."""

    request = fields.Raw(metadata={"example": "Bad Signature"})


class LimitReachedSchema(BaseSchema):
    """422, 429 or 503 from a limit: the setting's name, and messages by field."""

    limit = fields.String(metadata={"example": "max_connections_per_user"})
    request = fields.List(fields.String(), metadata={"description": "Or another field."})


class AdminDisconnectResponseSchema(BaseSchema):
    conn_id = fields.String(metadata={"format": "uuid"})
    disconnected = fields.Boolean(metadata={"description": "false when no such connection exists."})
