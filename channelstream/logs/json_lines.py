"""``log_format = json``: every log line one JSON object, for log shippers.

The ini's logging configuration (pserve applies it before the application loads) decides
where lines go; this only replaces the formatter of every handler it set up, so each line
becomes {"time", "level", "logger", "message"} (+ "http" for access lines, "exception"
with the traceback). Messages are redacted where they are made (``redaction``), as in text.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from channelstream import jsonenc


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        http = getattr(record, "http", None)
        if http is not None:
            entry["http"] = http
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # One line whatever the message holds: JSON escapes newlines.
        return jsonenc.dumps(entry).decode()


def handlers() -> list[logging.Handler]:
    """Every handler configured in this process, and Python's last resort."""
    found: list[logging.Handler] = list(logging.root.handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            found.extend(logger.handlers)
    if logging.lastResort is not None:
        found.append(logging.lastResort)
    unique: dict[int, logging.Handler] = {id(handler): handler for handler in found}
    return list(unique.values())


def use_json() -> None:
    formatter = JsonFormatter()
    for handler in handlers():
        handler.setFormatter(formatter)
