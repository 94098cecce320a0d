"""A body is read once, in pieces, and never past the limit."""

from __future__ import annotations

import io
from typing import Any

import pytest
from webob import Request

from channelstream.errors import BadRequest, PayloadTooLarge, RequestError
from channelstream.request_body import PIECE, raw_body


class Input(io.BytesIO):
    """A wsgi.input that records how much each read asked for."""

    def __init__(self, data: bytes, fail: BaseException | None = None) -> None:
        super().__init__(data)
        self.asked: list[int] = []
        self.fail = fail

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        if self.fail is not None:
            raise self.fail
        return super().read(size)


def request(body: Input, length: int | None) -> Any:
    environ = {"REQUEST_METHOD": "POST", "wsgi.input": body, "wsgi.input_terminated": True}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    return Request.blank("/message", environ)


def test_a_small_body_is_one_read_and_read_once() -> None:
    body = Input(b'[{"a": 1}]')
    req = request(body, 10)
    assert raw_body(req, 100) == b'[{"a": 1}]'
    assert raw_body(req, 100) == b'[{"a": 1}]'
    assert body.asked == [10]


def test_an_announced_body_over_the_limit_is_never_read() -> None:
    body = Input(b"x" * 10)
    with pytest.raises(PayloadTooLarge):
        raw_body(request(body, 1 << 30), 1000)
    assert body.asked == []


def test_a_chunked_body_is_read_in_pieces_and_stopped_past_the_limit() -> None:
    body = Input(b"x" * (10 * PIECE))
    with pytest.raises(PayloadTooLarge):
        raw_body(request(body, None), 3 * PIECE)
    assert body.asked == [PIECE] * 4


def test_a_body_shorter_than_announced_is_400() -> None:
    with pytest.raises(BadRequest) as short:
        raw_body(request(Input(b"abc"), 10), 100)
    assert short.value.body == {"body": ["Shorter than its Content-Length (10 bytes)."]}
    # A server raises when the stream ends early (ours: http_input).
    with pytest.raises(BadRequest):
        raw_body(request(Input(b"", fail=OSError("unexpected end of file")), 10), 100)


def test_a_late_body_is_408() -> None:
    with pytest.raises(RequestError) as late:
        raw_body(request(Input(b"", fail=TimeoutError()), 10), 100)
    assert late.value.status == 408
