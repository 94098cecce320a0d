"""The framework-free half of the demo chat backends.

Both demo applications (``pyramid_app.py`` and ``flask_app.py``) are thin
adapters around :class:`ChatBackend`: it validates what the browser sends,
signs the server API calls to channelstream and returns ``(status, json)``.
The browser never sees the channelstream secret; it only gets a ``conn_id``.

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

import requests
from itsdangerous import TimestampSigner

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE = HERE / "templates" / "chat.html"

# Channel names a page may ask for: the demo room is "lobby", tests use their own.
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
USERNAME = re.compile(r"^[^\s<>&\"']{1,32}$")
MAX_TEXT = 2000

# Every chat channel: presence with user lists, "typing" state changes and a
# short history the page shows on its first connect.
CHANNEL_CONFIG: dict[str, Any] = {
    "notify_presence": True,
    "notify_state": True,
    "store_history": True,
    "history_size": 50,
    "broadcast_presence_with_user_lists": True,
}

# What /connect and /subscribe ask channelstream to answer with, for the joined channels.
JOIN_INFO: dict[str, bool] = {
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
    # channelstream's `secret` (never sent to the browser).
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

    def __init__(self, settings: DemoSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.signer = TimestampSigner(settings.secret)

    # -- talking to channelstream -------------------------------------------

    def call(self, method: str, path: str, payload: Any) -> Reply:
        """One signed server API call; answers channelstream's status and JSON."""
        headers = {"x-channelstream-secret": self.signer.sign("channelstream").decode()}
        try:
            response = self.session.request(
                method,
                self.settings.server_url + path,
                json=payload,
                headers=headers,
                timeout=self.settings.timeout,
            )
        except requests.RequestException as exc:
            return 502, {"error": f"channelstream unreachable: {exc.__class__.__name__}"}
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200]}
        return response.status_code, body

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
        payload = {
            "username": username,
            "channels": channels,
            "channel_configs": _channel_configs(channels),
            "fresh_user_state": {"typing": False},
            # Merged on every connect: a reconnecting page is not typing.
            "user_state": {"typing": False},
            "state_public_keys": PUBLIC_STATE_KEYS,
            "info": JOIN_INFO,
        }
        return self.call("POST", "/connect", payload)

    def subscribe(self, body: Any, *, unsubscribe: bool = False) -> Reply:
        """POST /subscribe or /unsubscribe: {conn_id, channels}."""
        try:
            data = _require_object(body)
            conn_id = _conn_id(data.get("conn_id"))
            channels = _channels(data.get("channels"), None)
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        payload: dict[str, Any] = {"conn_id": conn_id, "channels": channels}
        if unsubscribe:
            return self.call("POST", "/unsubscribe", payload)
        payload["channel_configs"] = _channel_configs(channels)
        payload["info"] = JOIN_INFO
        return self.call("POST", "/subscribe", payload)

    def message(self, body: Any) -> Reply:
        """POST /message: {username, channel, message: {text}}."""
        try:
            data = _require_object(body)
            username = _username(data.get("username"))
            channel = _channels([data.get("channel")], None)[0]
            text = _text(data.get("message"))
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call(
            "POST", "/message", [{"user": username, "channel": channel, "message": {"text": text}}]
        )

    def edit(self, body: Any) -> Reply:
        """PATCH /message: {uuid, channel, message: {text}}."""
        try:
            data = _require_object(body)
            channel = _channels([data.get("channel")], None)[0]
            edit = {
                "uuid": _uuid(data.get("uuid")),
                "channel": channel,
                "message": {"text": _text(data.get("message"))},
            }
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call("PATCH", "/message", [edit])

    def delete(self, body: Any) -> Reply:
        """DELETE /message: {uuid, channel}."""
        try:
            data = _require_object(body)
            channel = _channels([data.get("channel")], None)[0]
            target = {"uuid": _uuid(data.get("uuid")), "channel": channel}
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return self.call("DELETE", "/message", [target])

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
        return self.call("POST", "/user_state", {"user": username, "user_state": state})

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


def _channel_configs(channels: list[str]) -> dict[str, dict[str, Any]]:
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
