"""One access line per request, in Apache's common or combined format, off the request path.

The request's greenlet only appends a tuple of what it knows (about a microsecond);
formatting, redaction and the logging handlers' writes happen in one writer greenlet that
runs while lines wait. The line goes to the ``channelstream.access`` logger at INFO, so
the ini decides where it lands; with ``log_format = json`` the same fields are also given
to the JSON line as "http". No header but Referer and User-Agent is ever written (never a
signature), and ``?secret=`` values are masked in the request line and the referer.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Any

from channelstream.redaction import redact

log = logging.getLogger("channelstream.access")

COMMON = "common"
COMBINED = "combined"

# remote, time, request line, status, bytes, seconds, referer, user agent
Entry = tuple[str, float, str, str, int, float, str, str]


def apache_time(now: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def format_line(style: str, entry: Entry) -> tuple[str, dict[str, Any]]:
    """The line, and the same facts as fields (for JSON lines)."""
    remote, now, request_line, status, size, seconds, referer, agent = entry
    request_line, referer = redact(request_line), redact(referer)
    line = (
        f'{remote or "-"} - - [{apache_time(now)}] "{_quoted(request_line)}" {status} {size or "-"}'
    )
    if style == COMBINED:
        line += f' "{_quoted(referer or "-")}" "{_quoted(agent or "-")}"'
    method, _, rest = request_line.partition(" ")
    target, _, protocol = rest.rpartition(" ") if " " in rest else (rest, "", "")
    fields = {
        "remote": remote,
        "method": method,
        "path": target,
        "protocol": protocol,
        "status": int(status) if status.isdigit() else status,
        "bytes": size,
        "duration_s": round(seconds, 6),
        "referer": referer,
        "user_agent": agent,
    }
    return line, fields


class AccessLog:
    def __init__(self, style: str, spawn: Callable[[Callable[[], None]], Any]) -> None:
        self.style = style
        # gevent.spawn in the server: the writer runs after the request's greenlet yields.
        self._spawn = spawn
        self._waiting: collections.deque[Entry] = collections.deque()
        self._writing = False

    def record(self, entry: Entry) -> None:
        """The request path's part: keep the facts, wake the writer."""
        self._waiting.append(entry)
        if not self._writing:
            self._writing = True
            self._spawn(self.write_waiting)

    def write_waiting(self) -> None:
        try:
            waiting = self._waiting
            while waiting:
                line, fields = format_line(self.style, waiting.popleft())
                log.info(line, extra={"http": fields})
        finally:
            self._writing = False
