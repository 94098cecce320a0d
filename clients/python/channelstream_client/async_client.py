"""``AsyncClient``: the server API from an asyncio backend (FastAPI, Starlette, aiohttp).

The same calls as ``Client``, awaited; see ``client.py`` for what each does."""

from __future__ import annotations

import asyncio
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


class AsyncClient:
    """``Client``'s twin for asyncio: the same arguments, every call awaited.

    Make one per event loop (at application start-up) and ``await client.aclose()`` at
    shutdown; it is safe to share among the loop's tasks.
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
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = _calls.base_url(url)
        self.retry = retry or RetryPolicy()
        self._signer = _calls.Signer(secret, legacy_signature)
        # A given httpx.Client (proxies, TLS, event hooks) is the caller's to close.
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    # -- plumbing -------------------------------------------------------------------
    async def send(self, call: Call) -> Any:
        """Send one call with retries; the answer's JSON, or APIError / TransportError."""
        content = call.content()
        attempt = 0
        while True:
            request = _calls.build_request(self._http, self.url, call, self._signer, content)
            try:
                response = await self._http.send(request)
            except _calls.RETRYABLE as exc:
                if attempt >= self.retry.retries:
                    raise _calls.transport_error(exc, call, attempt + 1) from exc
                await asyncio.sleep(self.retry.delay(attempt))
            except httpx.HTTPError as exc:
                raise _calls.transport_error(exc, call, attempt + 1) from exc
            else:
                if not _calls.should_retry(response, self.retry, attempt):
                    return _calls.result(response, call)
                await asyncio.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
            attempt += 1

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- connections ----------------------------------------------------------------
    async def connect(
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
        return cast(ConnectResult, await self.send(call))

    async def subscribe(
        self,
        conn_id: str,
        channels: Sequence[str],
        *,
        channel_configs: Mapping[str, ChannelConfig] | None = None,
        info: InfoOptions | None = None,
    ) -> SubscribeResult:
        call = _calls.subscribe(conn_id, channels, channel_configs=channel_configs, info=info)
        return cast(SubscribeResult, await self.send(call))

    async def unsubscribe(
        self, conn_id: str, channels: Sequence[str], *, info: InfoOptions | None = None
    ) -> UnsubscribeResult:
        return cast(
            UnsubscribeResult, await self.send(_calls.unsubscribe(conn_id, channels, info=info))
        )

    async def user_state(
        self,
        user: str,
        state: Mapping[str, StateValue] | None = None,
        *,
        state_public_keys: Sequence[str] | None = None,
    ) -> UserStateResult:
        """Merge ``state`` into the user's state; ``state_public_keys`` replaces the public
        keys (None keeps them, [] clears them)."""
        call = _calls.user_state(user, state, state_public_keys=state_public_keys)
        return cast(UserStateResult, await self.send(call))

    async def disconnect(self, conn_id: str) -> bool:
        """True if the connection was known; it is collected at the next pass."""
        return bool(await self.send(_calls.disconnect(conn_id)))

    # -- messages -------------------------------------------------------------------
    @overload
    async def publish(self, messages: Message) -> PublishedMessage: ...
    @overload
    async def publish(self, messages: Sequence[Message]) -> list[PublishedMessage]: ...
    async def publish(
        self, messages: Message | Sequence[Message]
    ) -> PublishedMessage | list[PublishedMessage]:
        """Publish one message (answers it) or a list (answers the list, in order). Each
        message gets a uuid unless it has one, so retries name the same message."""
        items, single = _calls.as_list(messages, "publish")
        answer = cast(list[PublishedMessage], await self.send(_calls.publish(items)))
        return answer[0] if single else answer

    @overload
    async def edit(self, edits: MessageEdit) -> PublishedMessage: ...
    @overload
    async def edit(self, edits: Sequence[MessageEdit]) -> list[PublishedMessage]: ...
    async def edit(
        self, edits: MessageEdit | Sequence[MessageEdit]
    ) -> PublishedMessage | list[PublishedMessage]:
        items, single = _calls.as_list(edits, "edit")
        answer = cast(list[PublishedMessage], await self.send(_calls.edit(items)))
        return answer[0] if single else answer

    @overload
    async def delete(self, deletes: MessageDelete) -> DeletedMessage: ...
    @overload
    async def delete(self, deletes: Sequence[MessageDelete]) -> list[DeletedMessage]: ...
    async def delete(
        self, deletes: MessageDelete | Sequence[MessageDelete]
    ) -> DeletedMessage | list[DeletedMessage]:
        items, single = _calls.as_list(deletes, "delete")
        answer = cast(list[DeletedMessage], await self.send(_calls.delete(items)))
        return answer[0] if single else answer

    # -- channels and info ----------------------------------------------------------
    async def channel_config(self, configs: Mapping[str, ChannelConfig]) -> ChannelsInfo:
        return cast(ChannelsInfo, await self.send(_calls.channel_config(configs)))

    async def info(
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
        return cast(ChannelsInfo, await self.send(call))

    async def admin_info(self) -> AdminInfo:
        return cast(AdminInfo, await self.send(_calls.admin_info()))
