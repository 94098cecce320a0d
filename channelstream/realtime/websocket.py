"""One WebSocket session: reads driven by an event-loop watcher, and a single write path.

No greenlet waits on an idle socket: a libev watcher calls us when the client sends
something, and everything we do with it never blocks. That keeps an idle connection down to
a few small objects (a parked greenlet holds a copy of its C stack, and pywsgi's handler an
8 KiB read buffer). Work that may block (saving positions to the engine) runs in a greenlet
spawned when the session ends.

Writes never wait for a slow client: a frame goes straight to the OS socket with a
non-blocking send, and only what the kernel would not take is queued for this session's one
writer greenlet. Once something is queued, everything after it queues too, so order holds;
queued message bodies are joined into one frame (0.7 frames are JSON arrays). Past
``max_queued_bytes`` the client is too slow to keep: it is closed with 4008 and will resume.
"""

from __future__ import annotations

import collections
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from wsproto.connection import Connection as WSConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import ProtocolError

from channelstream.model.event import EventBatch
from channelstream.realtime.frames import (
    HEARTBEAT_FRAME,
    batch_frame,
    json_array,
    text_frame,
)

if TYPE_CHECKING:
    from channelstream.limits.buckets import TokenBucket
    from channelstream.limits.node import FrameRate

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
# Never sent: RFC 6455's code for a connection that ended without a close frame.
CLOSE_ABNORMAL = 1006
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_PING_TIMEOUT = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_SLOW_CONSUMER = 4008

# One read's worth; a larger message arrives over several reads.
READ_SIZE = 65536
# Catch-up goes out in frames of about this size, so a client parses as it receives.
CATCHUP_FRAME = 262144
# Server frames are unmasked and need no state: built once for every socket.
HEARTBEAT_AND_PING = HEARTBEAT_FRAME + b"\x89\x02cs"

# The WSGI environ key under which channelstream's server handler offers the /ws view the
# upgrade: a callable that hands the socket over after the 101.
UPGRADE_KEY = "channelstream.websocket.upgrade"

# Seconds a closing socket gets to take its close frame before it is cut off.
CLOSE_TIMEOUT = 30.0


class WebSocketSession:
    kind = "websocket"
    __slots__ = (
        "_bodies",
        "_clock",
        "_close_code",
        "_closes",
        "_frame_rate",
        "_grace",
        "_head_partial",
        "_message_size",
        "_on_end",
        "_queued",
        "_raw",
        "_raw_queue",
        "_send_now",
        "_watcher",
        "_writer",
        "closed",
        "conn_id",
        "frame_bucket",
        "last_seen",
        "max_message",
        "max_queued",
        "sock",
        "ws",
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
        self.sock = sock
        self._raw = getattr(sock, "_sock", sock)
        # gevent's socket wraps the OS socket, which gevent keeps non-blocking: its send
        # answers at once with what the kernel took (measured 1.2-1.3x faster than sendall).
        self._send_now = getattr(sock, "_sock", sock).send
        self.ws = WSConnection(ConnectionType.SERVER)
        if leftover:
            self.ws.receive_data(leftover)
        self.conn_id = conn_id
        self.max_message = max_message
        self.max_queued = max_queued
        self._clock = clock
        self.last_seen = clock()
        self.closed = False
        # Bytes the kernel has not taken yet, in order, then bodies waiting to be framed.
        self._raw_queue: collections.deque[bytes | memoryview] = collections.deque()
        self._bodies: list[bytes] = []
        self._queued = 0
        self._writer: gevent.Greenlet | None = None
        self._message_size = 0
        # The head of _raw_queue is the rest of a frame the kernel took part of.
        self._head_partial = False
        # Catch-up bytes still queued: allowed on top of max_queued.
        self._grace = 0
        self._watcher: Any = None
        self._on_end: Callable[[], None] | None = None
        # client_messages_per_second (shared by every session), and this client's bucket,
        # made on its first frame: nothing for a socket that never says a word.
        self._frame_rate = frame_rate
        self.frame_bucket: TokenBucket | None = None
        # How this session ended, counted once into `closes` (the hub's ws_closes, by
        # code): ours or the client's close code, 1006 when the socket just went away.
        self._closes = closes
        self._close_code: int | None = None

    # -- the hub's side (never blocks) -----------------------------------------------
    def send_batch(self, batch: EventBatch) -> None:
        if self._writer is not None:
            for event in batch.events:
                self._queue_body(event.body)
        else:
            self._write(batch_frame(batch))

    def send_bodies(self, bodies: list[bytes]) -> None:
        """Catch-up: may be far larger than live traffic, so it goes out in frames of about
        CATCHUP_FRAME bytes and does not count against max_queued_bytes."""
        self._grace += sum(len(body) + 1 for body in bodies) + 16 * (len(bodies) // 64 + 1)
        chunk: list[bytes] = []
        size = 0
        for body in bodies:
            chunk.append(body)
            size += len(body) + 1
            if size >= CATCHUP_FRAME:
                self._send_chunk(chunk)
                chunk, size = [], 0
        if chunk:
            self._send_chunk(chunk)

    def _send_chunk(self, bodies: list[bytes]) -> None:
        if self._writer is not None:
            for body in bodies:
                self._queue_body(body)
        else:
            self._write(text_frame(json_array(bodies)))

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

    def close(self, code: int, reason: str) -> None:
        """Send a close frame after whatever frame is half sent, then end the socket.

        Queued messages are dropped (the client resumes from its offsets); a frame the
        kernel took part of must be finished first, or the close frame would land inside
        it. A client that reads nothing gets CLOSE_TIMEOUT to take it, then is cut off.
        """
        if self.closed:
            return
        self.closed = True
        self._ended(code)
        self._bodies.clear()
        kept = [self._raw_queue[0]] if self._raw_queue and self._head_partial else []
        self._raw_queue.clear()
        self._raw_queue.extend(kept)
        self._queued = sum(len(chunk) for chunk in kept)
        if self.ws.state is ConnectionState.OPEN:
            try:
                self._raw_queue.append(self.ws.send(CloseConnection(code=code, reason=reason)))
            except ProtocolError:
                pass
        if self._writer is None:
            self._writer = gevent.spawn(self._drain)
        gevent.spawn_later(CLOSE_TIMEOUT, self._shutdown)

    # -- writing ---------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        if self._writer is not None:
            self._queue_raw(data)
            return
        try:
            sent = self._send_now(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._abort()
            return
        if sent < len(data):
            # Known before queueing: queueing may trip the limit and close at once.
            self._head_partial = sent > 0
            self._queue_raw(memoryview(data)[sent:])

    def _queue_raw(self, data: bytes | memoryview) -> None:
        self._raw_queue.append(data)
        self._grew(len(data))

    def _queue_body(self, body: bytes) -> None:
        if self.closed:
            return
        self._bodies.append(body)
        self._grew(len(body) + 1)

    def _grew(self, size: int) -> None:
        self._queued += size
        if self._queued > self.max_queued + self._grace:
            log.warning("closing slow consumer %s: %d bytes queued", self.conn_id, self._queued)
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
        elif self._writer is None:
            self._writer = gevent.spawn(self._drain)

    def _drain(self) -> None:
        """The one writer: runs while anything is queued; after a close, ends the socket."""
        try:
            while True:
                if self._raw_queue:
                    chunk: bytes | memoryview = self._raw_queue.popleft()
                    self._head_partial = False
                    size = len(chunk)
                elif self._bodies:
                    bodies, self._bodies = self._bodies, []
                    size = sum(len(body) + 1 for body in bodies)
                    chunk = text_frame(json_array(bodies))
                else:
                    break
                self.sock.sendall(chunk)
                self._queued -= size
                self._grace = max(0, self._grace - size)
        except OSError:
            self._abort()
        finally:
            self._writer = None
            if self.closed:
                self._shutdown()

    def _ended(self, code: int) -> None:
        if self._close_code is None:
            self._close_code = code
            if self._closes is not None:
                self._closes[code] = self._closes.get(code, 0) + 1

    def _abort(self) -> None:
        self._ended(CLOSE_ABNORMAL)
        self.closed = True
        self._raw_queue.clear()
        self._bodies.clear()
        self._shutdown()

    def _shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- reading (the handler's greenlet) --------------------------------------------
    def start(self, on_end: Callable[[], None]) -> None:
        """Start reading; `on_end` runs in a new greenlet once the session is over."""
        self._on_end = on_end
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
                self.ws.receive_data(data)
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

    def _finish(self, on_end: Callable[[], None] | None) -> None:
        try:
            if on_end is not None:
                on_end()
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
        for event in self.ws.events():
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
                    self._write(self.ws.send(event.response()))
            elif isinstance(event, Pong):
                if not self.closed:
                    self._over_rate()
            elif isinstance(event, CloseConnection):
                if self.ws.state is ConnectionState.OPEN:
                    # wsproto reports a frame it could not parse as a close with the RFC's
                    # code (1002, 1007...): fail the connection with that code.
                    self.close(event.code, "protocol error")
                    continue
                if self.ws.state is ConnectionState.REMOTE_CLOSING:
                    self._ended(event.code)
                    self._write(self.ws.send(event.response()))
                self.closed = True
                return False
        return True
