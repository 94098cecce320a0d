"""``Client``: the server API from a synchronous backend (Django, Flask, a worker)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, cast, overload

import httpx

from channelstream_client import _calls
from channelstream_client._calls import Call, RetryPolicy
from channelstream_client.types import (
    AdminInfo,
    ChannelConfig,
    ChannelsInfo,
    ConnectResult,
    DeletedMessage,
    InfoOptions,
    Message,
    MessageDelete,
    MessageEdit,
    PublishedMessage,
    StateValue,
    SubscribeResult,
    UnsubscribeResult,
    UserStateResult,
)


class Client:
    """One channelstream server (or cluster address), with a pool of keep-alive connections.

    ``url`` is where channelstream answers, with its route prefix if it has one
    (``http://127.0.0.1:8000``, ``https://rt.example.com/realtime``). ``secret`` is its
    ``channelstream.secret``; given several keys (whitespace-separated, as during a
    rotation) the client signs with the first. Calls are signed with the request-bound
    signature; ``legacy_signature=True`` sends 0.7's instead (for a 0.7 server).

    Thread-safe: share one client across the backend's threads and close it at exit.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        legacy_signature: bool = False,
        max_connections: int = 20,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.url = _calls.base_url(url)
        self.retry = retry or RetryPolicy()
        self._signer = _calls.Signer(secret, legacy_signature)
        # A given httpx.Client (proxies, TLS, event hooks) is the caller's to close.
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    # -- plumbing -------------------------------------------------------------------
    def send(self, call: Call) -> Any:
        """Send one call with retries; the answer's JSON, or APIError / TransportError."""
        content = call.content()
        attempt = 0
        while True:
            request = _calls.build_request(self._http, self.url, call, self._signer, content)
            try:
                response = self._http.send(request)
            except _calls.RETRYABLE as exc:
                if attempt >= self.retry.retries:
                    raise _calls.transport_error(exc, call, attempt + 1) from exc
                time.sleep(self.retry.delay(attempt))
            except httpx.HTTPError as exc:
                raise _calls.transport_error(exc, call, attempt + 1) from exc
            else:
                if not _calls.should_retry(response, self.retry, attempt):
                    return _calls.result(response, call)
                time.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
            attempt += 1

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- connections ----------------------------------------------------------------
    def connect(
        self,
        username: str,
        channels: Sequence[str] = (),
        *,
        conn_id: str | None = None,
        channel_configs: Mapping[str, ChannelConfig] | None = None,
        fresh_user_state: Mapping[str, StateValue] | None = None,
        user_state: Mapping[str, StateValue] | None = None,
        state_public_keys: Sequence[str] | None = None,
        info: InfoOptions | None = None,
    ) -> ConnectResult:
        """A connection for ``username``; hand its ``conn_id`` to the browser."""
        call = _calls.connect(
            username,
            channels,
            conn_id=conn_id,
            channel_configs=channel_configs,
            fresh_user_state=fresh_user_state,
            user_state=user_state,
            state_public_keys=state_public_keys,
            info=info,
        )
        return cast(ConnectResult, self.send(call))

    def subscribe(
        self,
        conn_id: str,
        channels: Sequence[str],
        *,
        channel_configs: Mapping[str, ChannelConfig] | None = None,
        info: InfoOptions | None = None,
    ) -> SubscribeResult:
        call = _calls.subscribe(conn_id, channels, channel_configs=channel_configs, info=info)
        return cast(SubscribeResult, self.send(call))

    def unsubscribe(
        self, conn_id: str, channels: Sequence[str], *, info: InfoOptions | None = None
    ) -> UnsubscribeResult:
        return cast(UnsubscribeResult, self.send(_calls.unsubscribe(conn_id, channels, info=info)))

    def user_state(
        self,
        user: str,
        state: Mapping[str, StateValue] | None = None,
        *,
        state_public_keys: Sequence[str] | None = None,
    ) -> UserStateResult:
        """Merge ``state`` into the user's state; ``state_public_keys`` replaces the public
        keys (None keeps them, [] clears them)."""
        call = _calls.user_state(user, state, state_public_keys=state_public_keys)
        return cast(UserStateResult, self.send(call))

    def disconnect(self, conn_id: str) -> bool:
        """True if the connection was known; it is collected at the next pass."""
        return bool(self.send(_calls.disconnect(conn_id)))

    # -- messages -------------------------------------------------------------------
    @overload
    def publish(self, messages: Message) -> PublishedMessage: ...
    @overload
    def publish(self, messages: Sequence[Message]) -> list[PublishedMessage]: ...
    def publish(
        self, messages: Message | Sequence[Message]
    ) -> PublishedMessage | list[PublishedMessage]:
        """Publish one message (answers it) or a list (answers the list, in order). Each
        message gets a uuid unless it has one, so retries name the same message."""
        items, single = _calls.as_list(messages, "publish")
        answer = cast(list[PublishedMessage], self.send(_calls.publish(items)))
        return answer[0] if single else answer

    @overload
    def edit(self, edits: MessageEdit) -> PublishedMessage: ...
    @overload
    def edit(self, edits: Sequence[MessageEdit]) -> list[PublishedMessage]: ...
    def edit(
        self, edits: MessageEdit | Sequence[MessageEdit]
    ) -> PublishedMessage | list[PublishedMessage]:
        items, single = _calls.as_list(edits, "edit")
        answer = cast(list[PublishedMessage], self.send(_calls.edit(items)))
        return answer[0] if single else answer

    @overload
    def delete(self, deletes: MessageDelete) -> DeletedMessage: ...
    @overload
    def delete(self, deletes: Sequence[MessageDelete]) -> list[DeletedMessage]: ...
    def delete(
        self, deletes: MessageDelete | Sequence[MessageDelete]
    ) -> DeletedMessage | list[DeletedMessage]:
        items, single = _calls.as_list(deletes, "delete")
        answer = cast(list[DeletedMessage], self.send(_calls.delete(items)))
        return answer[0] if single else answer

    # -- channels and info ----------------------------------------------------------
    def channel_config(self, configs: Mapping[str, ChannelConfig]) -> ChannelsInfo:
        return cast(ChannelsInfo, self.send(_calls.channel_config(configs)))

    def info(
        self,
        channels: Sequence[str] | None = None,
        *,
        exclude_channels: Sequence[str] | None = None,
        include_history: bool | None = None,
        include_users: bool | None = None,
        return_public_state: bool | None = None,
    ) -> ChannelsInfo:
        """Channel info (every channel when ``channels`` is None); options left as None keep
        the server's defaults."""
        call = _calls.info(
            channels,
            exclude_channels=exclude_channels,
            include_history=include_history,
            include_users=include_users,
            return_public_state=return_public_state,
        )
        return cast(ChannelsInfo, self.send(call))

    def admin_info(self) -> AdminInfo:
        return cast(AdminInfo, self.send(_calls.admin_info()))
