"""The framework-free half of the demo chat backends.

Both demo applications (``pyramid_app.py`` and ``flask_app.py``) are thin
adapters around :class:`ChatBackend`: it validates what the browser sends,
calls channelstream through ``channelstream_client`` (which signs every call)
and returns ``(status, json)``. The browser never sees the channelstream
secret; it only gets a ``conn_id``.

This is a demo: the username is whatever the page says. A real application
takes it from its own session.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channelstream_client import APIError, Client, TransportError
from channelstream_client.types import (
    ChannelConfig,
    InfoOptions,
    Message,
    MessageDelete,
    MessageEdit,
)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE = HERE / "templates" / "chat.html"

# Channel names a page may ask for: the demo room is "lobby", tests use their own.
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
USERNAME = re.compile(r"^[^\s<>&\"']{1,32}$")
MAX_TEXT = 2000

# Every chat channel: presence with user lists, "typing" state changes and a
# short history the page shows on its first connect.
CHANNEL_CONFIG: ChannelConfig = {
    "notify_presence": True,
    "notify_state": True,
    "store_history": True,
    "history_size": 50,
    "broadcast_presence_with_user_lists": True,
}

# What /connect and /subscribe ask channelstream to answer with, for the joined channels.
JOIN_INFO: InfoOptions = {
    "include_history": True,
    "include_users": True,
    "return_public_state": True,
}

# The only user state the demo sets, and it is public (others see it).
PUBLIC_STATE_KEYS = ["typing"]

Reply = tuple[int, Any]
# A browser-facing endpoint: the request's JSON body (None if unreadable) -> Reply.
Handler = Callable[[Any], Reply]


@dataclass(frozen=True)
class DemoSettings:
    """Where channelstream is and how to sign calls to it."""

    # Base URL the backend uses for server API calls.
    server_url: str
    # Base URL the browser uses for /ws, /listen, /disconnect and the JS client.
    public_url: str
    # channelstream's `secret` (never sent to the browser); with several keys the first signs.
    secret: str
    # Shown in the page title so one can tell the two demos apart.
    framework: str = "demo"
    default_channel: str = "lobby"
    timeout: float = field(default=10.0)

    @classmethod
    def from_env(cls, framework: str) -> DemoSettings:
        server_url = os.environ.get("CHANNELSTREAM_URL", "http://127.0.0.1:8000").rstrip("/")
        public_url = os.environ.get("CHANNELSTREAM_PUBLIC_URL", server_url).rstrip("/")
        secret = os.environ.get("CHANNELSTREAM_SECRET", "secret")
        return cls(server_url=server_url, public_url=public_url, secret=secret, framework=framework)


class BadRequest(ValueError):
    """What the browser sent is not acceptable (answered with 400)."""


class ChatBackend:
    """The demo's application backend, independent of the web framework."""

    def __init__(self, settings: DemoSettings, client: Client | None = None) -> None:
        self.settings = settings
        # One client for the process: thread-safe, with keep-alive connections.
        self.client = client or Client(
            settings.server_url, settings.secret, timeout=settings.timeout
        )

    # -- talking to channelstream -------------------------------------------

    def call(self, action: Callable[[Client], Any]) -> Reply:
        """One server API call; answers channelstream's status and JSON."""
        try:
            return 200, action(self.client)
        except APIError as exc:
            return exc.status, exc.errors
        except TransportError as exc:
            cause = exc.__cause__.__class__.__name__ if exc.__cause__ else "no answer"
            return 502, {"error": f"channelstream unreachable: {cause}"}

    # -- the browser-facing endpoints ---------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        """The JSON endpoints as (path, HTTP method, handler), for the framework adapters."""
        return [
            ("/connect", "POST", self.connect),
            ("/subscribe", "POST", self.subscribe),
            ("/unsubscribe", "POST", lambda body: self.subscribe(body, unsubscribe=True)),
            ("/message", "POST", self.message),
            ("/message", "PATCH", self.edit),
            ("/message", "DELETE", self.delete),
            ("/user_state", "POST", self.user_state),
        ]

    def connect(self, body: Any) -> Reply:
        """POST /connect: {username, channels} -> channelstream's connect answer."""
        try:
            data = _require_object(body)
            username = _username(data.get("username"))
            channels = _channels(data.get("channels"), self.settings.default_channel)
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call(
            lambda client: client.connect(
                username,
                channels,
                channel_configs=_channel_configs(channels),
                fresh_user_state={"typing": False},
                # Merged on every connect: a reconnecting page is not typing.
                user_state={"typing": False},
                state_public_keys=PUBLIC_STATE_KEYS,
                info=JOIN_INFO,
            )
        )

    def subscribe(self, body: Any, *, unsubscribe: bool = False) -> Reply:
        """POST /subscribe or /unsubscribe: {conn_id, channels}."""
        try:
            data = _require_object(body)
            conn_id = _conn_id(data.get("conn_id"))
            channels = _channels(data.get("channels"), None)
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        if unsubscribe:
            return self.call(lambda client: client.unsubscribe(conn_id, channels))
        return self.call(
            lambda client: client.subscribe(
                conn_id, channels, channel_configs=_channel_configs(channels), info=JOIN_INFO
            )
        )

    def message(self, body: Any) -> Reply:
        """POST /message: {username, channel, message: {text}}."""
        try:
            data = _require_object(body)
            username = _username(data.get("username"))
            channel = _channels([data.get("channel")], None)[0]
            text = _text(data.get("message"))
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        # A list in, a list out: the browser's client reads channelstream's own answer.
        message: Message = {"user": username, "channel": channel, "message": {"text": text}}
        return self.call(lambda client: client.publish([message]))

    def edit(self, body: Any) -> Reply:
        """PATCH /message: {uuid, channel, message: {text}}."""
        try:
            data = _require_object(body)
            channel = _channels([data.get("channel")], None)[0]
            edit: MessageEdit = {
                "uuid": _uuid(data.get("uuid")),
                "channel": channel,
                "message": {"text": _text(data.get("message"))},
            }
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call(lambda client: client.edit([edit]))

    def delete(self, body: Any) -> Reply:
        """DELETE /message: {uuid, channel}."""
        try:
            data = _require_object(body)
            channel = _channels([data.get("channel")], None)[0]
            target: MessageDelete = {"uuid": _uuid(data.get("uuid")), "channel": channel}
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call(lambda client: client.delete([target]))

    def user_state(self, body: Any) -> Reply:
        """POST /user_state: the 0.7 client's {username, conn_id, update_state}."""
        try:
            data = _require_object(body)
            username = _username(data.get("username"))
            update = data.get("update_state")
            if not isinstance(update, dict) or set(update) - {"typing"}:
                raise BadRequest("update_state may only set 'typing'")
            state = {"typing": bool(update.get("typing", False))}
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call(lambda client: client.user_state(username, state))

    # -- the page --------------------------------------------------------------

    def page(self) -> str:
        """The chat page, pointing at channelstream's public URL."""
        public = self.settings.public_url
        ws_url = re.sub(r"^http", "ws", public)
        config = {
            "framework": self.settings.framework,
            "channel": self.settings.default_channel,
            "websocketUrl": ws_url + "/ws",
            "longPollUrl": public + "/listen",
            "disconnectUrl": public + "/disconnect",
        }
        importmap = {
            "imports": {"channelstream": public + "/static/channelstream/channelstream.js"}
        }
        replacements = {
            "{{FRAMEWORK}}": html.escape(self.settings.framework),
            "{{IMPORTMAP_JSON}}": _script_json(importmap),
            "{{CONFIG_JSON}}": _script_json(config),
        }
        text = TEMPLATE.read_text(encoding="utf-8")
        for marker, value in replacements.items():
            text = text.replace(marker, value)
        return text


def _channel_configs(channels: list[str]) -> dict[str, ChannelConfig]:
    """The same CHANNEL_CONFIG for each of `channels`."""
    return {name: CHANNEL_CONFIG for name in channels}


def _script_json(value: Any) -> str:
    """JSON for inside a <script> element: no "</script>" can end it early."""
    return json.dumps(value).replace("<", "\\u003c")


# -- validation helpers ---------------------------------------------------------


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


def _username(value: Any) -> str:
    if not isinstance(value, str) or not USERNAME.match(value):
        raise BadRequest("username: 1-32 characters, no spaces or markup")
    return value


def _channels(value: Any, default: str | None) -> list[str]:
    if value is None and default is not None:
        return [default]
    if not isinstance(value, list) or not value:
        raise BadRequest("channels: a non-empty list")
    for name in value:
        if not isinstance(name, str) or not CHANNEL_NAME.match(name):
            raise BadRequest("channel names: 1-64 of A-Z a-z 0-9 _ . : -")
    return sorted(set(value))


def _conn_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise BadRequest("conn_id: a string")
    return value


def _uuid(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[0-9a-fA-F-]{32,36}$", value):
        raise BadRequest("uuid: a message uuid")
    return value


def _text(message: Any) -> str:
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise BadRequest(f"message.text: 1-{MAX_TEXT} characters")
    return text
