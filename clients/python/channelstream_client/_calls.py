"""What each server call sends and how an answer becomes a result: shared by ``Client`` and
``AsyncClient``, which differ only in how they wait."""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from channelstream_client import __version__
from channelstream_client._signing import (
    LEGACY_HEADER,
    REQUEST_HEADER,
    sign_legacy,
    sign_request,
    signing_key,
)
from channelstream_client.errors import APIError, TransportError
from channelstream_client.types import (
    ChannelConfig,
    InfoOptions,
    Message,
    MessageDelete,
    MessageEdit,
    StateValue,
)

USER_AGENT = f"channelstream-client/{__version__}"


@dataclasses.dataclass(frozen=True)
class Call:
    """One server call: its method, its path under the base URL and its JSON body."""

    method: str
    path: str
    body: Any = None

    def content(self) -> bytes:
        """The body's bytes, made once: these bytes are signed and these are sent."""
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When a call is tried again: after a connection error or timeout, or a 502/503/504
    (channelstream answers 503 while its engine is unreachable), at most ``retries`` more
    times, waiting ``backoff`` doubled each time (with jitter, at most ``max_backoff``, or
    the server's ``Retry-After`` when it is shorter than ``max_backoff``).

    Every call is safe to retry: ``connect`` sends a conn_id the client chose, and every
    published message carries a uuid, which channelstream publishes once within its
    ``idempotency_window``: a retried message is delivered once (see the README)."""

    retries: int = 2
    backoff: float = 0.1
    max_backoff: float = 2.0
    statuses: frozenset[int] = frozenset({502, 503, 504})

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff)
            except ValueError:
                pass  # an HTTP date: use our own backoff
        wait = min(self.backoff * (2**attempt), self.max_backoff)
        return wait * random.uniform(0.5, 1.0)


NO_RETRIES = RetryPolicy(retries=0)

# httpx errors after which trying again can help (not, say, an unsupported URL scheme).
RETRYABLE = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


class Signer:
    """Signs each attempt afresh (a retry after a backoff needs a new ``t``)."""

    def __init__(self, secret: str, legacy: bool) -> None:
        self.key = signing_key(secret)
        self.legacy = legacy

    def headers(self, method: str, target: str, content: bytes) -> dict[str, str]:
        if self.legacy:
            return {LEGACY_HEADER: sign_legacy(self.key)}
        return {REQUEST_HEADER: sign_request(self.key, method, target, content)}


def build_request(
    http: httpx.Client | httpx.AsyncClient, base: str, call: Call, signer: Signer, content: bytes
) -> httpx.Request:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if content:
        headers["Content-Type"] = "application/json"
    request = http.build_request(call.method, base + call.path, content=content, headers=headers)
    # The signed target is the path and query exactly as httpx puts them on the wire.
    target = request.url.raw_path.decode("ascii")
    request.headers.update(signer.headers(call.method, target, content))
    return request


def should_retry(response: httpx.Response, policy: RetryPolicy, attempt: int) -> bool:
    return response.status_code in policy.statuses and attempt < policy.retries


def result(response: httpx.Response, call: Call) -> Any:
    """The answer's JSON; an APIError for any 4xx/5xx, and for a redirect, which the
    server API never answers with (``/admin/admin.json`` redirects to the sign-in form when
    it does not accept the signature)."""
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        errors = {"request": f"Redirected to {location}: the signature was not accepted"}
        raise APIError(status, errors, call.method, call.path)
    try:
        body = response.json()
    except ValueError:
        body = None if status < 400 else response.text
    if status >= 400:
        raise APIError(status, body, call.method, call.path)
    return body


def transport_error(exc: httpx.HTTPError, call: Call, attempts: int) -> TransportError:
    noun = "try" if attempts == 1 else "tries"
    return TransportError(f"{call.method} {call.path}: {exc!r} after {attempts} {noun}")


def base_url(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"channelstream's URL must be http(s)://host[:port][/prefix], got {url!r}")
    return url.rstrip("/")


# -- the calls ----------------------------------------------------------------------
def _drop_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def connect(
    username: str,
    channels: Sequence[str] = (),
    *,
    conn_id: str | None = None,
    channel_configs: Mapping[str, ChannelConfig] | None = None,
    fresh_user_state: Mapping[str, StateValue] | None = None,
    user_state: Mapping[str, StateValue] | None = None,
    state_public_keys: Sequence[str] | None = None,
    info: InfoOptions | None = None,
) -> Call:
    body = _drop_none(
        username=username,
        # Chosen here, so that a retried connect names the same connection.
        conn_id=conn_id or str(uuid.uuid4()),
        channels=list(channels),
        channel_configs=dict(channel_configs) if channel_configs is not None else None,
        fresh_user_state=dict(fresh_user_state) if fresh_user_state is not None else None,
        user_state=dict(user_state) if user_state is not None else None,
        state_public_keys=list(state_public_keys) if state_public_keys is not None else None,
        info=dict(info) if info is not None else None,
    )
    return Call("POST", "/connect", body)


def subscribe(
    conn_id: str,
    channels: Sequence[str],
    *,
    channel_configs: Mapping[str, ChannelConfig] | None = None,
    info: InfoOptions | None = None,
) -> Call:
    body = _drop_none(
        conn_id=conn_id,
        channels=list(channels),
        channel_configs=dict(channel_configs) if channel_configs is not None else None,
        info=dict(info) if info is not None else None,
    )
    return Call("POST", "/subscribe", body)


def unsubscribe(conn_id: str, channels: Sequence[str], *, info: InfoOptions | None = None) -> Call:
    body = _drop_none(
        conn_id=conn_id, channels=list(channels), info=dict(info) if info is not None else None
    )
    return Call("POST", "/unsubscribe", body)


def user_state(
    user: str,
    state: Mapping[str, StateValue] | None = None,
    *,
    state_public_keys: Sequence[str] | None = None,
) -> Call:
    body: dict[str, Any] = {"user": user, "user_state": dict(state or {})}
    if state_public_keys is not None:
        body["state_public_keys"] = list(state_public_keys)
    return Call("POST", "/user_state", body)


def with_uuid(message: Message) -> Message:
    """A copy of the message with a uuid (its own, or a new one) and a destination checked:
    the server silently drops a message with neither ``channel`` nor ``pm_users``."""
    if not isinstance(message, Mapping):
        raise TypeError(f"a message is a dict, got {type(message).__name__}")
    if not message.get("channel") and not message.get("pm_users"):
        raise ValueError("a message needs a channel or pm_users (the server would drop it)")
    copy: Message = dict(message)  # type: ignore[assignment]
    if not copy.get("uuid"):
        copy["uuid"] = str(uuid.uuid4())
    return copy


def publish(messages: Sequence[Message]) -> Call:
    return Call("POST", "/message", [with_uuid(message) for message in messages])


def edit(edits: Sequence[MessageEdit]) -> Call:
    return Call("PATCH", "/message", [_addressed(item, "an edit") for item in edits])


def delete(deletes: Sequence[MessageDelete]) -> Call:
    return Call("DELETE", "/message", [_addressed(item, "a delete") for item in deletes])


def _addressed(item: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not item.get("uuid"):
        raise ValueError(f"{what} needs the message's uuid")
    return dict(item)


def channel_config(configs: Mapping[str, ChannelConfig]) -> Call:
    return Call("POST", "/channel_config", {name: dict(config) for name, config in configs.items()})


def info(
    channels: Sequence[str] | None = None,
    *,
    exclude_channels: Sequence[str] | None = None,
    include_history: bool | None = None,
    include_users: bool | None = None,
    return_public_state: bool | None = None,
) -> Call:
    options = _drop_none(
        channels=list(channels) if channels is not None else None,
        exclude_channels=list(exclude_channels) if exclude_channels is not None else None,
        include_history=include_history,
        include_users=include_users,
        return_public_state=return_public_state,
    )
    return Call("POST", "/info", {"info": options} if options else None)


def disconnect(conn_id: str) -> Call:
    return Call("POST", "/disconnect", {"conn_id": conn_id})


def admin_info() -> Call:
    return Call("GET", "/admin/admin.json")


def as_list(items: Any, what: str) -> tuple[list[Any], bool]:
    """``(items, single)``: one mapping becomes a list of one."""
    if isinstance(items, Mapping):
        return [items], True
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"{what}: a dict or a list of dicts")
    return list(items), False
