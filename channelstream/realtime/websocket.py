"""One WebSocket session: reads driven by an event-loop watcher; the write side is
``sending.FrameSender``'s.

No greenlet waits on an idle socket: a libev watcher calls us when the client sends
something, and everything we do with it never blocks. That keeps an idle connection down to
a few small objects (a parked greenlet holds a copy of its C stack, and an HTTP handler its
read buffer); wsproto's parser is made only once the client sends its first bytes.
Work that may block (saving positions to the engine) runs in a greenlet spawned when the
session ends.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import ProtocolError

from channelstream.realtime.frames import HEARTBEAT_FRAME

# The close codes are the sender's; the other modules read them here, with the session.
from channelstream.realtime.sending import (
    CLOSE_ABNORMAL,
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_PING_TIMEOUT,
    CLOSE_POLICY,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TIMEOUT,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN,
    FrameSender,
)

if TYPE_CHECKING:
    from channelstream.limits.buckets import TokenBucket
    from channelstream.limits.node import FrameRate

__all__ = [
    "CLOSE_ABNORMAL",
    "CLOSE_GOING_AWAY",
    "CLOSE_NORMAL",
    "CLOSE_PING_TIMEOUT",
    "CLOSE_POLICY",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_TOO_BIG",
    "CLOSE_TRY_AGAIN",
    "UPGRADE_KEY",
    "WebSocketSession",
    "valid_handshake_key",
]

log = logging.getLogger(__name__)

# Server frames are unmasked and need no state: built once for every socket.
HEARTBEAT_AND_PING = HEARTBEAT_FRAME + b"\x89\x02cs"
# One read's worth; a larger message arrives over several reads.
READ_SIZE = 65536

# The WSGI environ key under which channelstream's server handler offers the /ws view the
# upgrade: a callable that hands the socket over after the 101.
UPGRADE_KEY = "channelstream.websocket.upgrade"


def valid_handshake_key(key: str) -> bool:
    """A client's ``Sec-WebSocket-Key``: 16 bytes in base64 (RFC 6455, section 4.1)."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


class WebSocketSession(FrameSender):
    kind = "websocket"
    __slots__ = (
        "_clock",
        "_frame_rate",
        "_message_size",
        "_on_end",
        "_watcher",
        "frame_bucket",
        "last_seen",
        "max_message",
    )

    def __init__(
        self,
        sock: Any,
        *,
        conn_id: str,
        max_message: int,
        max_queued: int,
        clock: Callable[[], float],
        leftover: bytes = b"",
        frame_rate: FrameRate | None = None,
        closes: dict[int, int] | None = None,
    ) -> None:
        super().__init__(sock, conn_id=conn_id, max_queued=max_queued, closes=closes)
        if leftover:
            self._protocol().receive_data(leftover)
        self.max_message = max_message
        self._clock = clock
        self.last_seen = clock()
        self._message_size = 0
        self._watcher: Any = None
        # What runs once the session is over: the callable and its arguments, in one tuple
        # (a closure per socket would cost a function and its cells).
        self._on_end: tuple[Any, ...] | None = None
        # client_messages_per_second (shared by every session), and this client's bucket,
        # made on its first frame: nothing for a socket that never says a word.
        self._frame_rate = frame_rate
        self.frame_bucket: TokenBucket | None = None

    # -- the hub's side (never blocks) -----------------------------------------------
    def heartbeat(self, now: float, ping_timeout: float) -> bool:
        """Send `[]` (0.7's heartbeat), and a ping when the client has been quiet for half
        the ping timeout; False (and closed) when it stopped answering."""
        if self.closed:
            return False
        quiet = now - self.last_seen
        if quiet > ping_timeout:
            self.close(CLOSE_PING_TIMEOUT, "ping timeout")
            return False
        if self._writer is None:
            # Data is already flowing when something is queued; no heartbeat needed then.
            # A client that talks (the JS client's own heartbeat) is not pinged: every
            # pong costs us a read.
            self._write(HEARTBEAT_AND_PING if quiet > ping_timeout / 2 else HEARTBEAT_FRAME)
        return True

    # -- reading (the handler's greenlet) --------------------------------------------
    def start(self, on_end: Callable[..., None], *args: Any) -> None:
        """Start reading; `on_end(*args)` runs in a new greenlet once the session is over."""
        self._on_end = (on_end, *args)
        try:
            alive = self._handle_events()
        except ProtocolError:
            alive = True
            self.close(CLOSE_PROTOCOL_ERROR, "protocol error")
        if not alive:
            self._end()
            return
        self._watcher = gevent.get_hub().loop.io(self._raw.fileno(), 1)
        self._watcher.start(self._on_readable)

    def _on_readable(self) -> None:
        """Runs in gevent's hub when the socket is readable: must never block."""
        try:
            while True:
                try:
                    data = self._raw.recv(READ_SIZE)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if not data:
                    self._end()
                    return
                self.last_seen = self._clock()
                self._protocol().receive_data(data)
                if not self._handle_events():
                    self._end()
                    return
                if len(data) < READ_SIZE:
                    return
        except ProtocolError as exc:
            log.info("websocket %s protocol error: %s", self.conn_id, exc)
            self.close(CLOSE_PROTOCOL_ERROR, "protocol error")
        except Exception:
            log.exception("websocket %s failed", self.conn_id)
            self._abort()
            self._end()

    def _end(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None
        self._ended(CLOSE_ABNORMAL)
        self.closed = True
        if self._writer is None:
            self._shutdown()
        on_end, self._on_end = self._on_end, None
        gevent.spawn(self._finish, on_end)

    def _finish(self, on_end: tuple[Any, ...] | None) -> None:
        try:
            if on_end is not None:
                on_end[0](*on_end[1:])
        finally:
            writer = self._writer
            if writer is not None:
                writer.join(CLOSE_TIMEOUT)
            self.sock.close()

    def _over_rate(self) -> bool:
        """A frame arrived: past client_messages_per_second, close with 1008 (limits.node)."""
        rate = self._frame_rate
        if rate is None or rate.allows(self):
            return False
        self.close(CLOSE_POLICY, "too many messages")
        return True

    def _handle_events(self) -> bool:
        """Act on what the client sent; False once the close handshake is over."""
        ws = self.ws
        if ws is None:
            return True  # nothing received yet
        for event in ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                if self.closed or (event.frame_finished and self._over_rate()):
                    continue
                self._message_size += len(event.data)
                if self._message_size > self.max_message:
                    self.close(CLOSE_TOO_BIG, "message too big")
                    continue
                if event.message_finished:
                    # Anything a client sends counts as activity (the JS client's heartbeat):
                    # last_seen is set on every read, and the heartbeat pass reports it.
                    self._message_size = 0
            elif isinstance(event, Ping):
                if not self.closed and not self._over_rate():
                    self._write(ws.send(event.response()))
            elif isinstance(event, Pong):
                if not self.closed:
                    self._over_rate()
            elif isinstance(event, CloseConnection):
                if ws.state is ConnectionState.OPEN:
                    # wsproto reports a frame it could not parse as a close with the RFC's
                    # code (1002, 1007...): fail the connection with that code.
                    self.close(event.code, "protocol error")
                    continue
                if ws.state is ConnectionState.REMOTE_CLOSING:
                    self._ended(event.code)
                    self._write(ws.send(event.response()))
                self.closed = True
                return False
        return True
