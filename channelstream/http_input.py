"""A request's body as the application reads it (``wsgi.input``): pieces the parser kept,
more read from the connection only when asked for, before a deadline.

A client that sent ``Expect: 100-continue`` is told to go on at the first read, so a body
the application refuses (a 413 on its Content-Length) is never sent at all. Whatever the
application leaves unread is read and dropped to keep the connection when small; otherwise
the connection closes after the answer (a 413 must not cost reading 100 MB).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from channelstream.http_parse import Refused, Request

# An unread body up to this size is read and dropped to keep the connection.
DISCARD_LIMIT = 65536

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class BodyTimeout(TimeoutError):
    """The body did not arrive within body_timeout (request_body answers 408)."""


class BodyInput:
    """``wsgi.input``. ``pull(seconds)`` reads more from the connection into the request's
    pieces: False at the end of the stream, ``TimeoutError`` when nothing came in time."""

    __slots__ = ("_continue", "_pull", "_request", "_send", "broken", "deadline", "position")

    def __init__(
        self,
        request: Request,
        pull: Callable[[float], bool],
        send: Callable[[bytes], None],
        seconds: float,
    ) -> None:
        self._request = request
        self._pull = pull
        self._send = send
        self._continue = request.expects_continue and request.version == "HTTP/1.1"
        self.deadline = time.monotonic() + seconds
        self.position = 0  # bytes handed to the application
        # The stream is out of step with the requests on it (short, late or broken body).
        self.broken = False

    # -- the file-like side -----------------------------------------------------------
    def read(self, size: int | None = -1) -> bytes:
        want = -1 if size is None or size < 0 else size
        pieces: list[bytes] = []
        got = 0
        body = self._request.body
        while want < 0 or got < want:
            if body:
                piece = body.popleft()
                if want >= 0 and got + len(piece) > want:
                    keep = want - got
                    body.appendleft(piece[keep:])
                    piece = piece[:keep]
                pieces.append(piece)
                got += len(piece)
            elif self._request.complete:
                break
            else:
                self._more()
        self.position += got
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readline(self, size: int | None = -1) -> bytes:
        line = bytearray()
        limit = -1 if size is None or size < 0 else size
        while limit < 0 or len(line) < limit:
            byte = self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    # -- what is left ------------------------------------------------------------------
    def unread(self) -> int | None:
        """Bytes of the body not read yet; None when unknown (a chunked body under way)."""
        request = self._request
        if request.complete:
            return sum(len(piece) for piece in request.body)
        if request.content_length is None:
            return None
        return request.content_length - self.position

    def abandons(self) -> bool:
        """Whether what is left is not worth reading to reach the next request. A client
        still waiting for 100 Continue may or may not send its body: the connection ends."""
        if self._request.complete:
            return self.broken
        left = self.unread()
        return self.broken or self._continue or left is None or left > DISCARD_LIMIT

    def discard(self) -> bool:
        """Read and drop the rest of a small body; False when the connection must close."""
        if self.abandons():
            return False
        try:
            while self.read(DISCARD_LIMIT):
                pass
        except (OSError, ValueError):
            return False
        return not self.broken

    # -- reading more --------------------------------------------------------------------
    def _more(self) -> None:
        if self._continue:
            self._continue = False
            self._send(CONTINUE)
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.broken = True
            raise BodyTimeout("request body not received in time")
        try:
            more = self._pull(left)
        except TimeoutError:
            self.broken = True
            raise BodyTimeout("request body not received in time") from None
        except Refused:
            self.broken = True
            raise ValueError("malformed chunked body") from None
        except OSError:
            self.broken = True
            raise
        if not more:
            self.broken = True
            raise OSError("the body ended before it was complete")
