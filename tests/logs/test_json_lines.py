"""log_format = json: each line one JSON object, tracebacks included."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from channelstream.logs.json_lines import JsonFormatter, handlers, use_json


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "channelstream.test", logging.WARNING, __file__, 1, message, args, None
    )
    made.__dict__.update(extra)
    return made


def test_a_line_is_one_json_object() -> None:
    line = JsonFormatter().format(record("two\nlines %d", 2, http={"status": 200}))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "channelstream.test"
    assert entry["message"] == "two\nlines 2" and entry["http"] == {"status": 200}
    assert entry["time"].endswith("Z")


def test_a_traceback_goes_inside_the_object() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(failed))
    assert "ValueError: boom" in entry["exception"]


@pytest.fixture
def own_handler() -> Iterator[logging.Handler]:
    handler = logging.StreamHandler()
    logger = logging.getLogger("channelstream.test_json_lines")
    logger.addHandler(handler)
    saved = {h: h.formatter for h in handlers()}
    yield handler
    logger.removeHandler(handler)
    for h, formatter in saved.items():
        h.setFormatter(formatter)


def test_every_configured_handler_gets_the_json_formatter(own_handler: logging.Handler) -> None:
    assert own_handler in handlers()
    use_json()
    assert isinstance(own_handler.formatter, JsonFormatter)
    assert isinstance(logging.lastResort.formatter, JsonFormatter)  # type: ignore[union-attr]
