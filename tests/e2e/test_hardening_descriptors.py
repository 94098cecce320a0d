"""A finished WebSocket session frees its descriptor at once, and running out of
descriptors answers 503 and recovers.

1.0 freed a session's socket only when Python's cycle collector ran (rare with the tuned
thresholds): with ``ulimit -n 1024`` it stopped at ~760 live sockets, then sent ``101``
followed by a dead socket and left new connections unanswered.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.hardening import open_descriptors, read_answer
from tests.e2e.helpers import FrameReader, body_of, client_frame, handshake, status_of
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(90)

SETTINGS = {"heartbeat_interval": 0.5, "gc_conns_after": 60}


@pytest.fixture(scope="module")
def node(logs_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(settings=SETTINGS, log_path=logs_dir / "hardening-fds.log") as server:
        yield server


def session(node: ServerProcess, conn_id: str) -> tuple[socket.socket, bytes]:
    return handshake(node.port, f"/ws?conn_id={conn_id}")


def test_descriptors_are_back_to_baseline_within_a_second_after_200_sessions(
    node: ServerProcess,
) -> None:
    conn_id = node.connect("fd-user", ["fd-channel"])
    baseline = open_descriptors(node.pid)
    for index in range(200):
        sock, head = session(node, conn_id)
        assert head.startswith(b"HTTP/1.1 101"), head
        if index % 2:
            # A clean close: the client's close frame, the server's answer.
            sock.sendall(client_frame(b"\x03\xe8", opcode=0x8))
            code, _ = FrameReader(sock).until_close()
            assert code == 1000
        sock.close()  # every other one just drops the connection
    wait_until(
        lambda: open_descriptors(node.pid) <= baseline,
        timeout=1,
        what=f"descriptors back to {baseline} (now {open_descriptors(node.pid)})",
    )


def live(sock: socket.socket) -> bool:
    """A live session sends its heartbeat `[]` within the heartbeat interval."""
    try:
        sock.settimeout(5)
        opcode, payload = FrameReader(sock).frame()
        return opcode == 0x1 and payload == b"[]"
    except (OSError, EOFError):
        return False


def test_out_of_descriptors_is_503_before_any_upgrade_and_recovers(logs_dir: Path) -> None:
    log = logs_dir / "hardening-fd-limit.log"
    with ServerProcess(settings=SETTINGS, log_path=log, nofile=64) as node:
        # One connection per socket (a second socket on a conn_id replaces the first), made
        # while descriptors are still free.
        conn_ids = [node.connect(f"many-{index}", ["c"]) for index in range(100)]
        upgraded: list[socket.socket] = []
        refused = []
        try:
            for conn_id in conn_ids:
                sock, head = session(node, conn_id)
                if head.startswith(b"HTTP/1.1 101"):
                    upgraded.append(sock)
                    continue
                refused.append(head + read_answer(sock))
                sock.close()
                if len(refused) == 3:
                    break
            assert len(refused) == 3, f"no 503 after {len(upgraded)} sockets"
            for answer in refused:
                assert status_of(answer) == 503, answer
                assert b"\r\nRetry-After: 1\r\n" in answer
                assert body_of(answer) == {"request": "Server out of connections, try again"}
            # Every upgraded socket is a working session, never a 101 and a dead socket.
            assert len(upgraded) > 20
            assert all(live(sock) for sock in upgraded)
        finally:
            for sock in upgraded:
                sock.close()
        # Once the clients are gone the server serves again, plain requests and upgrades.
        wait_until(lambda: requests.get(node.url + "/health", timeout=5).status_code == 200)
        sock, head = session(node, node.connect("after", ["c"]))
        with sock:
            assert head.startswith(b"HTTP/1.1 101"), head
            assert live(sock)
        assert "Traceback" not in log.read_text()


def test_plain_requests_are_503_too_when_descriptors_run_out(logs_dir: Path) -> None:
    log = logs_dir / "hardening-fd-limit-plain.log"
    with ServerProcess(settings=SETTINGS, log_path=log, nofile=48) as node:
        held = []
        answers = []
        try:
            for _ in range(80):
                sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
                held.append(sock)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = read_answer(sock)
                answers.append(status_of(answer) if answer else 0)
                if answers[-1] == 503:
                    break
            assert answers[-1] == 503, answers
            assert set(answers[:-1]) == {200}
        finally:
            for sock in held:
                sock.close()
        started = time.monotonic()
        wait_until(lambda: requests.get(node.url + "/health", timeout=5).status_code == 200)
        assert time.monotonic() - started < 5
