"""The WebSocket transport: heartbeats, pings, slow consumers, oversized client messages."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from tests.e2e.helpers import (
    FrameReader,
    client_frame,
    clients,
    handshake,
    name,
    open_ws,
    wait_for_text,
    ws_key,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(40)

MAX_QUEUED = 256 * 1024
MAX_MESSAGE = 1024
PING_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def tnode(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {
        "heartbeat_interval": 0.3,
        "ping_timeout": 30,
        "max_queued_bytes": MAX_QUEUED,
        "ws_max_message_size": MAX_MESSAGE,
        "gc_conns_after": 30,
    }
    with ServerProcess(settings=settings, log_path=logs_dir / "transport.log") as server:
        yield server


@pytest.fixture(scope="module")
def pnode(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {"heartbeat_interval": 0.3, "ping_timeout": PING_TIMEOUT, "gc_conns_after": 30}
    with ServerProcess(settings=settings, log_path=logs_dir / "pings.log") as server:
        yield server


def test_heartbeats_arrive_on_idle_socket(tnode: ServerProcess) -> None:
    conn_id = tnode.connect(name("hb"), [name("hb")])
    with clients(open_ws(tnode, conn_id)) as (client,):
        started = time.monotonic()
        beats = 0
        while beats < 3:
            assert client.read_frame(2) == []
            beats += 1
        assert time.monotonic() - started < 3
        assert client.received == []


def test_answering_client_outlives_ping_timeout(pnode: ServerProcess) -> None:
    channel = name("alive")
    conn_id = pnode.connect(name("alive"), [channel])
    with clients(open_ws(pnode, conn_id)) as (client,):
        deadline = time.monotonic() + PING_TIMEOUT * 2
        while time.monotonic() < deadline:
            # Reading lets websocket-client answer the server's pings.
            assert client.read_frame(2) is not None
        pnode.publish(channel, "x", {"text": "still open"})
        client.messages(1, type_="message")


def test_client_that_never_answers_pings_is_closed_1011(pnode: ServerProcess) -> None:
    conn_id = pnode.connect(name("mute"), [name("mute")])
    sock, head = handshake(pnode.port, f"/ws?conn_id={conn_id}")
    with sock:
        assert head.startswith(b"HTTP/1.1 101")
        sock.settimeout(PING_TIMEOUT * 4)
        started = time.monotonic()
        code, seen = FrameReader(sock).until_close()
        assert code == 1011
        assert [] in seen
        assert time.monotonic() - started >= PING_TIMEOUT * 0.5


def test_message_over_limit_closes_1009(tnode: ServerProcess) -> None:
    channel = name("big")
    conn_id = tnode.connect(name("big"), [channel])
    with clients(open_ws(tnode, conn_id)) as (client,):
        client.ws.send('{"type": "heartbeat"}')
        client.ws.send("x" * (MAX_MESSAGE - 10))
        tnode.publish(channel, "x", {"text": "after small ones"})
        client.messages(1, type_="message")
        client.ws.send("x" * (MAX_MESSAGE * 2))
        assert client.close_frame() == (1009, "message too big")


def test_fragmented_message_over_limit_closes_1009(tnode: ServerProcess) -> None:
    conn_id = tnode.connect(name("frag"), [name("frag")])
    with clients(open_ws(tnode, conn_id)) as (client,):
        part = "y" * (MAX_MESSAGE // 2)
        client.ws.send_frame(websocket.ABNF.create_frame(part, websocket.ABNF.OPCODE_TEXT, 0))
        client.ws.send_frame(websocket.ABNF.create_frame(part, websocket.ABNF.OPCODE_CONT, 0))
        client.ws.send_frame(websocket.ABNF.create_frame(part, websocket.ABNF.OPCODE_CONT, 1))
        assert client.close_frame()[0] == 1009


def test_slow_consumer_is_closed_4008_and_others_get_everything(tnode: ServerProcess) -> None:
    channel = name("flood")
    readers = [open_ws(tnode, tnode.connect(name("reader"), [channel])) for _ in range(2)]
    slow_conn = tnode.connect(name("slow"), [channel])
    sock, head = handshake(tnode.port, f"/ws?conn_id={slow_conn}", rcvbuf=4096)
    assert head.startswith(b"HTTP/1.1 101")
    payload = "z" * 60_000
    batches, per_batch = 12, 14  # ~10 MB: more than any kernel buffer on the way
    total = batches * per_batch
    with clients(*readers), sock:
        started = time.monotonic()
        for batch in range(batches):
            items = [
                {
                    "channel": channel,
                    "user": "flood",
                    "message": {"n": batch * per_batch + i, "p": payload},
                }
                for i in range(per_batch)
            ]
            tnode.post("/message", items)
            for reader in readers:
                # Keep the good readers reading while the flood goes on.
                while reader.frames < 1 or len(reader.received) < (batch + 1) * per_batch:
                    if reader.read_frame(10) is None:
                        raise AssertionError("a reading client was closed")
        elapsed = time.monotonic() - started
        for reader in readers:
            numbers = [m["message"]["n"] for m in reader.received if m.get("type") == "message"]
            assert numbers == list(range(total))
        assert elapsed < 20
        # Now read what the slow socket was sent: whole frames, ending in a 4008 close.
        sock.settimeout(10)
        code, seen = FrameReader(sock).until_close()
        assert code == 4008
        delivered = sum(len(frame) for frame in seen if isinstance(frame, list))
        assert delivered < total


def test_slow_consumer_can_reconnect_and_catch_up(tnode: ServerProcess) -> None:
    """After a 4008 the client reconnects with the same conn_id and catches up."""
    channel = name("again")
    conn_id = tnode.connect(name("slow2"), [channel])
    sock, head = handshake(tnode.port, f"/ws?conn_id={conn_id}", rcvbuf=4096)
    assert head.startswith(b"HTTP/1.1 101")
    with sock:
        for _ in range(12):
            tnode.post(
                "/message",
                [{"channel": channel, "user": "f", "message": {"p": "q" * 60_000}}] * 14,
            )
        sock.shutdown(socket.SHUT_WR)
    tnode.publish(channel, "x", {"text": "after"})
    with clients(open_ws(tnode, conn_id, rcvbuf=65536)) as (client,):
        wait_for_text(client, "after", timeout=10)


def test_shutdown_closes_sockets_1001(logs_dir: Path) -> None:
    with ServerProcess(log_path=logs_dir / "shutdown.log") as server:
        conn_id = server.connect(name("bye"), [name("bye")])
        client = open_ws(server, conn_id)
        with clients(client):
            server.stop()
            assert client.close_frame(timeout=5) == (1001, "server shutting down")
        assert server.process is not None
        assert server.process.returncode is not None


@pytest.mark.parametrize(
    ("connection", "extra"),
    [
        pytest.param("keep-alive, Upgrade", "", id="firefox-connection-header"),
        pytest.param(
            "Upgrade",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
            id="deflate-offered",
        ),
    ],
)
def test_browser_handshakes(tnode: ServerProcess, connection: str, extra: str) -> None:
    conn_id = tnode.connect(name("browser"), [name("browser")])
    key = ws_key()
    with socket.create_connection(("127.0.0.1", tnode.port), timeout=5) as sock:
        sock.sendall(
            (
                f"GET /ws?conn_id={conn_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Upgrade: websocket\r\nConnection: {connection}\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://example.com\r\n{extra}\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, head
            head += chunk
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101")
        headers = {
            k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        expected = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        assert headers["sec-websocket-accept"] == expected
        # No extension is negotiated: frames stay plain.
        assert "sec-websocket-extensions" not in headers
        assert FrameReader(sock).frame() == (0x1, b"[]")


@pytest.mark.parametrize(
    ("frame", "codes"),
    [
        # A masked text frame whose payload is not UTF-8: RFC 6455 says 1007.
        pytest.param(b"\x81\x82\x00\x00\x00\x00\xff\xfe", (1007,), id="invalid-utf8"),
        # A client frame without a mask: a protocol error, 1002.
        pytest.param(b"\x81\x02hi", (1002,), id="unmasked"),
        # A reserved opcode.
        pytest.param(b"\x83\x80\x00\x00\x00\x00", (1002,), id="reserved-opcode"),
    ],
)
def test_protocol_errors_get_a_close_frame(
    tnode: ServerProcess, frame: bytes, codes: tuple[int, ...]
) -> None:
    """Failing the connection sends a close frame with the reason (RFC 6455 7.1.7), rather
    than dropping TCP, so a client can tell a protocol error from a network failure."""
    conn_id = tnode.connect(name("proto"), [name("proto")])
    sock, head = handshake(tnode.port, f"/ws?conn_id={conn_id}")
    with sock:
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(frame)
        code, _ = FrameReader(sock).until_close()
        assert code in codes


def test_client_messages_count_as_activity(pnode: ServerProcess) -> None:
    """A client that never answers pings but sends its own heartbeats (as the JS client
    does) stays open; once it goes quiet it is closed with 1011."""
    conn_id = pnode.connect(name("chatty"), [name("chatty")])
    sock, head = handshake(pnode.port, f"/ws?conn_id={conn_id}")
    with sock:
        assert head.startswith(b"HTTP/1.1 101")
        sock.settimeout(0.05)
        reader = FrameReader(sock)
        started = time.monotonic()
        while time.monotonic() - started < PING_TIMEOUT * 1.5:
            sock.sendall(client_frame(b'{"type": "heartbeat"}'))
            try:
                while True:
                    opcode, _ = reader.frame()
                    assert opcode != 0x8, "closed while the client kept talking"
            except TimeoutError:
                pass
            time.sleep(0.2)
        sock.settimeout(PING_TIMEOUT * 4)
        code, _ = reader.until_close()
        assert code == 1011
