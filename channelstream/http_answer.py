"""The bytes of an answer's head, and the whole answers the server gives by itself (a
request refused before the application, the WebSocket handshake).

Headers come from the application (Pyramid); one that smuggles a line break would split
the answer in two for a proxy in front of us, so it is refused, as pywsgi refused it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from email.utils import formatdate
from typing import Any

from geventwebsocket.handler import WebSocketHandler

from channelstream import jsonenc

_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header's value, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def head(status: str, headers: list[tuple[str, str]], close: bool, keep_alive_1_0: bool) -> str:
    """The status line and headers, with Date (unless given) and what Connection says."""
    lines = ["HTTP/1.1 ", status, "\r\n"]
    breaks = len(headers) + 2  # the status line's, one per header, the blank line's
    dated = False
    for name, value in headers:
        lines += (name, ": ", value, "\r\n")
        if not dated and len(name) == 4 and name.lower() == "date":
            dated = True
    if not dated:
        lines += ("Date: ", http_date(), "\r\n")
        breaks += 1
    if close:
        lines.append("Connection: close\r\n")
        breaks += 1
    elif keep_alive_1_0:
        lines.append("Connection: keep-alive\r\n")
        breaks += 1
    lines.append("\r\n")
    text = "".join(lines)
    # Every line break is one of ours (one per header, the status line, the blank line).
    if text.count("\n") != breaks or text.count("\r") != breaks:
        raise ValueError("a line break in a response header")
    return text


def error_answer(status: str, body: Any) -> bytes:
    """A whole answer for a request refused before the application (then we close)."""
    data = jsonenc.dumps(body)
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data


def switching_protocols(key: str) -> bytes:
    """The 101 answer to a WebSocket handshake the /ws view has validated.

    gevent-websocket's handler performs the handshake only from inside its own pywsgi
    handler (``upgrade_connection`` writes through pywsgi's ``start_response``), which no
    longer serves our requests; its GUID and versions are still the reference, and the
    accept key is computed as its handler computes it (RFC 6455, section 4.2.2)."""
    digest = hashlib.sha1((key + WebSocketHandler.GUID).encode("latin-1")).digest()
    accept = base64.b64encode(digest).decode("ascii")
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode("latin-1")


SUPPORTED_VERSIONS = tuple(WebSocketHandler.SUPPORTED_VERSIONS)
