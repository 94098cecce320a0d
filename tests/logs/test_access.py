"""Access lines: Apache's formats, secrets masked, written by a writer and not the request."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from channelstream.logs.access import COMBINED, COMMON, AccessLog, Entry, format_line

ENTRY: Entry = (
    "127.0.0.1",
    0.0,
    'GET /info?secret=abc.def&x="1" HTTP/1.1',
    "200",
    1234,
    0.0123456,
    "http://app.example/page?secret=xyz",
    'agent "quoted"',
)


def test_the_common_format() -> None:
    line, _ = format_line(COMMON, ENTRY)
    assert line == (
        '127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] "GET /info?secret=***&x=\\"1\\" HTTP/1.1" '
        "200 1234"
    )


def test_the_combined_format_adds_referer_and_agent_masked_and_escaped() -> None:
    line, fields = format_line(COMBINED, ENTRY)
    assert line.endswith(' 200 1234 "http://app.example/page?secret=***" "agent \\"quoted\\""')
    assert "abc.def" not in line and "xyz" not in line
    assert fields == {
        "remote": "127.0.0.1",
        "method": "GET",
        "path": '/info?secret=***&x="1"',
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": 1234,
        "duration_s": 0.012346,
        "referer": "http://app.example/page?secret=***",
        "user_agent": 'agent "quoted"',
    }


def test_a_malformed_line_and_missing_values_still_make_a_line() -> None:
    entry: Entry = ("", 0.0, "GARBAGE", "400", 0, 0.0, "", "")
    line, fields = format_line(COMBINED, entry)
    assert line == '- - - [01/Jan/1970:00:00:00 +0000] "GARBAGE" 400 - "-" "-"'
    assert fields["method"] == "GARBAGE" and fields["path"] == ""


def test_recording_only_queues_and_one_writer_writes_them_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spawned: list[Callable[[], None]] = []
    writer = AccessLog(COMMON, spawned.append)
    with caplog.at_level(logging.INFO, logger="channelstream.access"):
        writer.record(ENTRY)
        writer.record(ENTRY)
        assert caplog.records == [] and len(spawned) == 1  # nothing written on the request
        spawned[0]()
        assert len(caplog.records) == 2
        assert caplog.records[0].http["status"] == 200  # type: ignore[attr-defined]
        writer.record(ENTRY)  # the writer ended: a new one is started
        assert len(spawned) == 2
