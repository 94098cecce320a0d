"""What a client sends, parsed and bounded for pywsgi: header lines, and a body read
before a deadline that knows how much of it is left unread.

It imports gevent but does not monkey-patch (``channelstream.server`` does, first).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent import pywsgi

# An unread body up to this size is read and dropped to keep the connection; past it, the
# connection closes after the answer (a 413 must not cost reading 100 MB).
DISCARD_LIMIT = 65536


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    body_timeout: float = 30.0


class HeaderTimeout(Exception):
    """The request line and headers did not arrive within header_timeout."""


class IdleTimeout(Exception):
    """No next request on a keep-alive connection within keepalive_timeout."""


class BodyTimeout(TimeoutError):
    """The body did not arrive within body_timeout (an OSError, as a failed read is)."""


# A header line: a token, a colon, and a value without control characters (HTAB aside).
# A NUL or a lone CR in a header could make a proxy in front of us see other headers.
_HEADER_LINE = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*\r?\n"
)


class RequestHeaders:
    """Request headers for pywsgi, parsed in plain Python.

    pywsgi's default goes through http.client and the email package, about a fifth of what
    a small API call costs here. This offers what pywsgi asks of it: ``status`` (non-empty
    means refuse with 400), ``get``, ``getheader``, ``del``, ``headers`` and ``typeheader``.
    """

    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, fp: Any, *args: Any) -> None:
        self.status = ""
        self._items: list[tuple[str, str]] = []
        # Lowercased name -> first value: pywsgi asks for about eight headers a request.
        self._first: dict[str, str] = {}
        for _ in range(self.MAX_HEADERS + 1):
            line = fp.readline(self.MAX_LINE + 1)
            if len(line) > self.MAX_LINE:
                self.status = "Line too long"
                return
            if line in (b"\r\n", b"\n", b""):
                return
            parsed = _HEADER_LINE.fullmatch(line.decode("latin-1"))
            if parsed is None:
                self.status = "Malformed header line"
                return
            name, value = parsed.groups()
            self._items.append((name, value))
            self._first.setdefault(name.lower(), value)
        self.status = "Too many headers"

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    getheader = get

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._items = [item for item in self._items if item[0].lower() != lowered]
        self._first.pop(lowered, None)

    @property
    def headers(self) -> Any:
        return (f"{key}: {value}\r\n" for key, value in self._items)

    @property
    def typeheader(self) -> Any:
        return self.get("content-type")


class TimedInput(pywsgi.Input):
    """pywsgi's request body, read before a deadline; it knows how much is left unread."""

    __slots__ = ("broken", "deadline")

    def __init__(self, rfile: Any, length: int | None, sock: Any, chunked: bool, seconds: float):
        super().__init__(rfile, length, socket=sock, chunked_input=chunked)
        self.deadline = time.monotonic() + seconds
        # The stream is out of step with the requests on it (short, late or unread body).
        self.broken = False

    def read(self, length: int | None = None) -> bytes:
        return self._timed(pywsgi.Input.read, length)

    def readline(self, size: int | None = None) -> bytes:
        return self._timed(pywsgi.Input.readline, size)

    def _timed(self, read: Callable[[Any, int | None], bytes], size: int | None) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.broken = True
            raise BodyTimeout("request body not received in time")
        timer = gevent.Timeout.start_new(left, BodyTimeout("request body not received in time"))
        try:
            return read(self, size)
        except (OSError, ValueError):
            self.broken = True
            raise
        finally:
            timer.close()

    def unread(self) -> int | None:
        """Bytes of the body not read yet; None when unknown (a chunked body under way)."""
        if self.chunked_input:
            return 0 if self.chunk_length == 0 else None
        return (self.content_length or 0) - self.position

    def abandons(self) -> bool:
        """Whether what is left is not worth reading to reach the next request."""
        left = self.unread()
        return self.broken or left is None or left > DISCARD_LIMIT

    def _discard(self) -> None:
        if self.abandons():
            self.broken = True  # the connection closes instead
            return
        super()._discard()


DEFAULT_LIMITS = HttpLimits()
