"""Start a real channelstream server process (pserve) on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from itsdangerous import TimestampSigner

ROOT = Path(__file__).resolve().parents[2]
PSERVE = Path(sys.executable).with_name("pserve")

SECRET = "test-secret"
ADMIN_SECRET = "test-admin-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A channelstream node in its own process; `settings` become CHANNELSTREAM_* variables."""

    def __init__(
        self,
        ini: str = "development.ini",
        settings: Mapping[str, Any] | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        nofile: int | None = None,
    ) -> None:
        self.ini = str(ROOT / ini)
        self.port = port or free_port()
        self.settings = {
            "secret": SECRET,
            "admin_secret": ADMIN_SECRET,
            "cookie_secret": "test-cookie-secret",
            "log_level": "INFO",
            **(settings or {}),
        }
        self.log_path = log_path
        # A limit on the process's open file descriptors (ulimit -n), for exhaustion tests.
        self.nofile = nofile
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name, value in self.settings.items():
            env["CHANNELSTREAM_" + name.upper()] = str(value)
        env["CHANNELSTREAM_LISTEN"] = f"127.0.0.1:{self.port}"
        return env

    def command(self) -> list[str]:
        return [str(PSERVE), self.ini]

    def start(self, timeout: float = 20) -> ServerProcess:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_descriptors if self.nofile else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code in (200, 503):
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start in time")

    def _limit_descriptors(self) -> None:
        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    # -- the backend's side ------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        # `secret` may list several keys (rotation): the first one signs.
        signing_key = str(self.settings["secret"]).split()[0]
        signed = TimestampSigner(signing_key).sign("channelstream").decode()
        return {"x-channelstream-secret": signed}

    def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return requests.request(
            method, self.url + path, json=json, headers=headers, timeout=10, **kwargs
        )

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        response = self.call("POST", path, json, **kwargs)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def connect(self, username: str, channels: list[str] | None = None, **body: Any) -> str:
        answer = self.post("/connect", {"username": username, "channels": channels or [], **body})
        return str(answer["conn_id"])

    def publish(self, channel: str | None, user: str, message: Any, **extra: Any) -> Any:
        item = {"channel": channel, "user": user, "message": message, **extra}
        return self.post("/message", [item])[0]

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serving(command: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run `command` (a server listening on `port`) in its own session until it answers
    /health; answer its URL. The whole session is stopped afterwards."""
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"exited with {process.returncode}: {log.read_text()}"
            try:
                requests.get(url + "/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "did not start"
                time.sleep(0.05)
        yield url
    finally:
        # The whole session: `pserve --reload` runs the app in a child process.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        except ProcessLookupError:
            process.wait(5)  # it had exited already (the failure is reported above)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
