"""The server API: signed JSON calls from the application's backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channelstream import operations, presenters
from channelstream.errors import ValidationFailed
from channelstream.schemas import fastpath, responses
from channelstream.schemas.connections import (
    ChannelConfigChangesSchema,
    ConnectSchema,
    InfoBodySchema,
    SubscribeSchema,
    UserStateSchema,
    default_info,
)
from channelstream.schemas.messages import (
    MessageDeleteSchema,
    MessageEditSchema,
    MessageSchema,
)
from channelstream.views.call_limits import check_channel_count, check_channels, check_messages
from channelstream.views.helpers import (
    INVALID_INPUT_TYPE,
    NO_BODY,
    fast_messages,
    json_body,
    json_view,
    load,
    state_of,
)
from channelstream.views.openapi import CONN_ID_QUERY, documented

if TYPE_CHECKING:
    from pyramid.request import Request

    from channelstream.model.connection import Connection


class ServerApiViews:
    """Every view here is added with the API guard (``views.guards``)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state = state_of(request)

    def _info(self, channels: Any, info: dict[str, Any]) -> dict[str, Any]:
        return presenters.channels_info(
            self.state,
            channels,
            include_history=info["include_history"],
            include_users=info["include_users"],
            exclude_channels=info["exclude_channels"],
            return_public_state=info["return_public_state"],
        )

    # -- connections -----------------------------------------------------------------
    @documented(
        "Open a connection for a user",
        body=ConnectSchema,
        answer=responses.ConnectResponseSchema,
        description="Creates (or names again) a connection; the browser then attaches "
        "to it with /ws or /listen using the conn_id.",
        responses={"429": "TooManyConnections"},
    )
    @json_view
    def connect(self) -> dict[str, Any]:
        body = json_body(self.request, self.state)
        check_channels(body, self.state.settings)
        data = fastpath.connect(body)
        if data is None:
            data = load(ConnectSchema, body)
        conn, user = operations.connect(
            self.state,
            username=data["username"],
            conn_id=data["conn_id"],
            channels=data["channels"],
            channel_configs=data["channel_configs"],
            fresh_user_state=data["fresh_user_state"],
            user_state=data["user_state"],
            state_public_keys=data["state_public_keys"],
        )
        channels = sorted(conn.channels)
        return {
            "conn_id": conn.conn_id,
            "username": user.username,
            "state": user.state,
            "public_state": user.public_state,
            "channels": channels,
            "channels_info": self._info(channels, data["info"]),
        }

    def _subscription_body(self) -> tuple[dict[str, Any], Connection]:
        body = json_body(self.request, self.state)
        if isinstance(body, dict) and "conn_id" not in body:
            # As 0.7.1: the query string's conn_id, else null ("Field may not be null.").
            body["conn_id"] = self.request.GET.get("conn_id")
        check_channels(body, self.state.settings)
        data = load(SubscribeSchema, body)
        return data, operations.find_connection(self.state, data["conn_id"])

    @documented(
        "Join channels",
        body=SubscribeSchema,
        answer=responses.SubscribeResponseSchema,
        params=({**CONN_ID_QUERY, "required": False},),
    )
    @json_view
    def subscribe(self) -> dict[str, Any]:
        data, conn = self._subscription_body()
        subscribed = operations.subscribe(
            self.state, conn, data["channels"], data["channel_configs"]
        )
        return self._subscription_answer(conn.conn_id, data["info"], "subscribed_to", subscribed)

    @documented(
        "Leave channels",
        body=SubscribeSchema,
        answer=responses.UnsubscribeResponseSchema,
        params=({**CONN_ID_QUERY, "required": False},),
    )
    @json_view
    def unsubscribe(self) -> dict[str, Any]:
        data, conn = self._subscription_body()
        left = operations.unsubscribe(self.state, conn, data["channels"])
        return self._subscription_answer(conn.conn_id, data["info"], "unsubscribed_from", left)

    def _subscription_answer(
        self, conn_id: str, info: dict[str, Any], key: str, changed: list[str]
    ) -> dict[str, Any]:
        channels = operations.subscriptions(self.state, conn_id)
        return {
            "channels": channels,
            "channels_info": self._info(channels, info),
            key: sorted(changed),
        }

    @documented(
        "Change a user's state", body=UserStateSchema, answer=responses.UserStateResponseSchema
    )
    @json_view
    def user_state(self) -> dict[str, Any]:
        data = load(UserStateSchema, json_body(self.request, self.state))
        user, changed = operations.set_user_state(
            self.state, data["user"], data["user_state"], data["state_public_keys"]
        )
        return {"user_state": user.state, "changed_state": changed, "public_keys": user.public_keys}

    # -- messages --------------------------------------------------------------------
    @documented(
        "Publish messages",
        body=[MessageSchema],
        body_description="A list; one bad item rejects the batch.",
        answer=[responses.PublishedMessageSchema],
        answer_description="The accepted list, in order.",
    )
    @json_view
    def message_post(self) -> list[dict[str, Any]]:
        body = json_body(self.request, self.state)
        check_messages(body, self.state.settings)
        messages = fast_messages(body)
        if messages is None:
            messages = load(MessageSchema, body, many=True)
        return operations.publish_messages(self.state, messages)

    @documented("Edit messages", body=[MessageEditSchema], answer=[responses.EditedMessageSchema])
    @json_view
    def message_patch(self) -> list[dict[str, Any]]:
        body = json_body(self.request, self.state)
        check_messages(body, self.state.settings)
        edits = load(MessageEditSchema, body, many=True)
        return operations.edit_messages(self.state, edits)

    @documented(
        "Delete messages", body=[MessageDeleteSchema], answer=[responses.DeletedMessageSchema]
    )
    @json_view
    def message_delete(self) -> list[dict[str, Any]]:
        body = json_body(self.request, self.state)
        check_messages(body, self.state.settings)
        deletes = load(MessageDeleteSchema, body, many=True)
        return operations.delete_messages(self.state, deletes)

    # -- channels --------------------------------------------------------------------
    @documented(
        "Configure channels",
        body={
            "type": "object",
            "additionalProperties": {"$ref": "#/components/schemas/ChannelConfigChanges"},
        },
        body_description="{channel name: the keys to change}",
        answer=responses.ChannelsInfoSchema,
    )
    @json_view
    def channel_config(self) -> dict[str, Any]:
        body = json_body(self.request, self.state)
        if not isinstance(body, dict):
            raise ValidationFailed(INVALID_INPUT_TYPE)
        check_channel_count(body, self.state.settings)
        configs = {}
        errors = {}
        for name, config in body.items():
            if not isinstance(name, str) or not 1 <= len(name) <= 256:
                errors[str(name)] = ["Channel names are 1 to 256 characters."]
                continue
            try:
                configs[name] = load(ChannelConfigChangesSchema, config)
            except ValidationFailed as exc:
                errors[name] = exc.body
        if errors:
            raise ValidationFailed(errors)
        names = operations.set_channel_configs(self.state, configs)
        return presenters.channels_info(
            self.state, names, include_history=False, include_users=False
        )

    @documented(
        "Channel information",
        method="POST",
        body=InfoBodySchema,
        body_required=False,
        answer=responses.ChannelsInfoSchema,
        description="Without a body: every channel, with history and users. With "
        '`{"info": {...}}`: the listed channels.',
    )
    @documented("Every channel's information", method="GET", answer=responses.ChannelsInfoSchema)
    @json_view
    def info(self) -> dict[str, Any]:
        body = json_body(self.request, self.state, allow_empty=True)
        if body is NO_BODY:
            info = default_info()
        else:
            check_channels(body, self.state.settings)
            info = load(InfoBodySchema, body)["info"]
        return self._info(info["channels"], info)
