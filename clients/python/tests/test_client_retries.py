"""The retry policy and the connection pool, against a real HTTP server that misbehaves on
purpose (503s, dropped connections) and records what it received."""

from __future__ import annotations

import time

import pytest

from channelstream.request_signing import SignedRequest, check_request_signature
from channelstream.settings import parse_settings
from channelstream_client import APIError, RetryPolicy, TransportError
from client_flavours import Factory
from client_support import NEW_KEY, ScriptedServer, json_answer
from tests.support.server import free_port

pytestmark = pytest.mark.timeout(30)

FAST = RetryPolicy(retries=2, backoff=0.01, max_backoff=0.05)
SERVER_SETTINGS = parse_settings(
    {"channelstream.environment": "development", "channelstream.secret": NEW_KEY}, environ={}
)
PUBLISHED = [{"uuid": "x"}]


def message() -> dict[str, object]:
    return {"channel": "c", "user": "u", "message": {"text": "hi"}}


def assert_signed_for_what_was_sent(received: dict[str, object]) -> None:
    """The server's own verifier accepts what the client sent, as it was received."""
    headers = received["headers"]
    assert isinstance(headers, dict)
    signed = SignedRequest(
        method=str(received["method"]),
        target=str(received["path"]),
        body=bytes(received["body"]),  # type: ignore[arg-type]
        header=headers["x-channelstream-signature"],
    )
    check_request_signature(SERVER_SETTINGS, signed)


def test_503s_are_retried_with_the_same_message_uuid(
    make_client: Factory, scripted: ScriptedServer
) -> None:
    scripted.answer(
        json_answer(503, {"request": "Service unavailable, try again"}, **{"Retry-After": "0"}),
        json_answer(503, {"request": "Service unavailable, try again"}),
        json_answer(200, [{"uuid": "from-server"}]),
    )
    client = make_client(scripted.url, NEW_KEY, retry=FAST)
    assert client.publish(message()) == {"uuid": "from-server"}
    bodies = scripted.bodies()
    assert len(bodies) == 3
    uuids = {body[0]["uuid"] for body in bodies}
    assert len(uuids) == 1 and next(iter(uuids))
    for received in scripted.received:
        assert_signed_for_what_was_sent(received)


def test_a_dropped_connection_is_retried(make_client: Factory, scripted: ScriptedServer) -> None:
    scripted.answer(None, json_answer(200, PUBLISHED))
    client = make_client(scripted.url, NEW_KEY, retry=FAST)
    assert client.publish(message()) == {"uuid": "x"}
    first, second = scripted.bodies()
    assert first == second


def test_retries_are_bounded(make_client: Factory, scripted: ScriptedServer) -> None:
    scripted.answer(*[json_answer(503, {"request": "down"})] * 5)
    client = make_client(scripted.url, NEW_KEY, retry=FAST)
    with pytest.raises(APIError) as failed:
        client.info()
    assert failed.value.status == 503 and failed.value.errors == {"request": "down"}
    assert len(scripted.received) == 3


def test_client_errors_are_not_retried(make_client: Factory, scripted: ScriptedServer) -> None:
    scripted.answer(json_answer(422, {"0": {"uuid": ["Not a valid UUID."]}}))
    client = make_client(scripted.url, NEW_KEY, retry=FAST)
    with pytest.raises(APIError) as refused:
        client.publish(message())
    assert refused.value.status == 422
    assert refused.value.errors == {"0": {"uuid": ["Not a valid UUID."]}}
    assert len(scripted.received) == 1


def test_a_non_json_error_page_is_kept_as_text(
    make_client: Factory, scripted: ScriptedServer
) -> None:
    scripted.answer((502, {"Content-Type": "text/html"}, b"<h1>Bad gateway</h1>"))
    client = make_client(scripted.url, NEW_KEY, retry=RetryPolicy(retries=0))
    with pytest.raises(APIError) as failed:
        client.info()
    assert failed.value.status == 502 and failed.value.errors == "<h1>Bad gateway</h1>"


def test_nobody_listening_is_a_transport_error_after_the_retries(make_client: Factory) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", NEW_KEY, retry=FAST)
    started = time.monotonic()
    with pytest.raises(TransportError, match="after 3 tries") as failed:
        client.connect("nobody")
    assert failed.value.__cause__ is not None
    assert time.monotonic() - started < 5


def test_retry_after_is_honoured_up_to_max_backoff() -> None:
    policy = RetryPolicy(backoff=0.1, max_backoff=2.0)
    assert policy.delay(0, "1") == 1.0
    assert policy.delay(0, "3600") == 2.0
    assert 0.05 <= policy.delay(0, "Wed, 21 Oct 2015 07:28:00 GMT") <= 0.1
    assert 0.2 <= policy.delay(2) <= 0.4
    assert policy.delay(30) <= 2.0


def test_calls_share_keep_alive_connections(make_client: Factory, scripted: ScriptedServer) -> None:
    client = make_client(scripted.url, NEW_KEY)
    for _ in range(20):
        client.info()
    assert len(scripted.received) == 20
    assert len(scripted.peers) == 1


def test_the_signature_covers_the_prefix_of_the_url(
    make_client: Factory, scripted: ScriptedServer
) -> None:
    client = make_client(scripted.url + "/realtime/", NEW_KEY)
    client.info(["lobby"])
    (received,) = scripted.received
    assert received["path"] == "/realtime/info"
    assert_signed_for_what_was_sent(received)


def test_a_url_must_be_http(make_client: Factory) -> None:
    for url in ("127.0.0.1:8000", "ftp://example.com", "http://"):
        with pytest.raises(ValueError, match="http"):
            make_client(url, NEW_KEY)
    with pytest.raises(ValueError, match="secret"):
        make_client("http://127.0.0.1:8000", "  ")
