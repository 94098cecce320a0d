"""Sign-in guessing is throttled per client address and per user name.

The attack: 175 wrong passwords a second, in parallel, against /admin/sign_in. Now an
address gets 5 free failures and a user name 20, then a lockout window (429 with
Retry-After) that doubles with every further failure; during it even the right password is
refused. The server trusts X-Forwarded-For from 127.0.0.1 here, so one test process can
speak from many addresses.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(60)

ADDRESS_FREE = 5
NAME_FREE = 20


@pytest.fixture(scope="module")
def node(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {"trusted_proxies": "127.0.0.1"}
    with ServerProcess(settings=settings, log_path=logs_dir / "hardening-signin.log") as server:
        yield server


def sign_in(node: ServerProcess, address: str, username: str, password: str) -> requests.Response:
    return requests.post(
        node.url + "/admin/sign_in",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
        timeout=10,
    )


def an_address() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def test_an_address_is_locked_out_after_a_few_wrong_passwords(node: ServerProcess) -> None:
    address = an_address()
    # In parallel, as the attack did: the count holds whatever the interleaving.
    with ThreadPoolExecutor(ADDRESS_FREE) as pool:
        first = list(pool.map(lambda i: sign_in(node, address, "admin", f"guess-{i}"), range(5)))
    assert [r.status_code for r in first] == [401] * ADDRESS_FREE
    locked = sign_in(node, address, "admin", "one-more-guess")
    assert locked.status_code == 429
    wait = int(locked.headers["Retry-After"])
    assert 1 <= wait <= 300
    assert "Too many failed sign-ins" in locked.text
    # Even the right password waits for the window to pass.
    right = node.settings["admin_secret"]
    assert sign_in(node, address, "admin", right).status_code == 429
    # Another address is not affected.
    assert sign_in(node, an_address(), "admin", right).status_code == 302
    time.sleep(wait + 0.1)
    assert sign_in(node, address, "admin", right).status_code == 302


def fail_freely(node: ServerProcess, address: str, username: str) -> None:
    """Use up the address's free failures (in parallel: each wrong password takes 0.5 s)."""
    with ThreadPoolExecutor(ADDRESS_FREE) as pool:
        answers = pool.map(lambda i: sign_in(node, address, username, f"guess-{i}"), range(5))
        assert [r.status_code for r in answers] == [401] * ADDRESS_FREE


def test_the_window_grows_with_every_further_failure(node: ServerProcess) -> None:
    address = an_address()
    fail_freely(node, address, "nobody")
    waits = []
    for _ in range(2):
        locked = sign_in(node, address, "nobody", "again")
        assert locked.status_code == 429
        waits.append(int(locked.headers["Retry-After"]))
        time.sleep(waits[-1] + 0.1)
        assert sign_in(node, address, "nobody", "wrong again").status_code == 401
    locked = sign_in(node, address, "nobody", "again")
    assert locked.status_code == 429
    waits.append(int(locked.headers["Retry-After"]))
    assert waits[0] < waits[1] < waits[2], waits


def test_a_user_name_guessed_from_many_addresses_is_locked_out(node: ServerProcess) -> None:
    username = f"target-{uuid.uuid4().hex[:8]}"
    addresses = [an_address() for _ in range(NAME_FREE)]
    with ThreadPoolExecutor(NAME_FREE) as pool:
        answers = list(pool.map(lambda a: sign_in(node, a, username, "guess"), addresses))
    assert [r.status_code for r in answers] == [401] * NAME_FREE
    # A fresh address, the same user name: the name's own window applies.
    locked = sign_in(node, an_address(), username, "guess")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    # Other user names from fresh addresses go on as before.
    assert sign_in(node, an_address(), "someone-else", "guess").status_code == 401


def test_a_backend_with_the_signature_is_never_locked_out(node: ServerProcess) -> None:
    address = an_address()
    fail_freely(node, address, "admin")
    assert sign_in(node, address, "admin", "x").status_code == 429
    response = node.call("GET", "/admin/admin.json", headers={"X-Forwarded-For": address})
    assert response.status_code == 200
