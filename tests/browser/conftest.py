"""Fixtures for the browser tests: real processes, a real browser.

- ``channelstream``: the server, started with ``pserve development.ini`` on a free
  port (and restartable on the same port).
- ``proxy``: a TCP proxy in front of it. Browsers reach channelstream only
  through it, so a test can cut their connections (a real dropped TCP
  connection, not a polite close) and refuse new ones for a while.
- ``demo_apps``: the Pyramid and Flask demo backends, served by waitress.
- ``browser`` / ``open_chat``: headless Debian chromium driven by Playwright.

Nothing here skips: without chromium the tests error out, saying what is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.support.server import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCREENSHOTS = HERE / "screenshots"
BIN = Path(sys.executable).parent

SECRET = "browser-tests-secret"
ADMIN_SECRET = "browser-tests-admin-secret"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long a process may take to start answering HTTP.
START_TIMEOUT = 30.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real chromium against real servers")


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Polls `url` until it answers 200; fails early if the process died."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{tail(log)}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {START_TIMEOUT} s:\n{tail(log)}")
        time.sleep(0.1)


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# -- channelstream -------------------------------------------------------------


class ChannelstreamServer:
    """`pserve development.ini` on a fixed free port, restartable."""

    def __init__(self, port: int, log: Path, settings: dict[str, str] | None = None) -> None:
        self.port = port
        # Extra `channelstream.NAME` settings, passed as CHANNELSTREAM_NAME variables.
        self.settings = dict(settings or {})
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = dict(
            os.environ,
            CHANNELSTREAM_LISTEN=f"127.0.0.1:{self.port}",
            CHANNELSTREAM_SECRET=SECRET,
            CHANNELSTREAM_ADMIN_SECRET=ADMIN_SECRET,
            **{f"CHANNELSTREAM_{name.upper()}": value for name, value in self.settings.items()},
        )
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"\n===== start #{self.starts} =====\n")
            out.flush()
            self.process = subprocess.Popen(
                [str(BIN / "pserve"), str(REPO / "development.ini")],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for_http(self.url + "/health", self.process, self.log)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def signed_headers(self) -> dict[str, str]:
        from itsdangerous import TimestampSigner

        return {"x-channelstream-secret": TimestampSigner(SECRET).sign("channelstream").decode()}

    def api(self, method: str, path: str, payload: Any = None) -> requests.Response:
        return requests.request(
            method, self.url + path, json=payload, headers=self.signed_headers(), timeout=10
        )


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the servers' output goes (pytest's temporary directory: runs do not mix)."""
    return tmp_path_factory.mktemp("browser-logs")


@pytest.fixture(scope="session")
def channelstream(logs: Path) -> Iterator[ChannelstreamServer]:
    server = ChannelstreamServer(free_port(), logs / "channelstream.log")
    server.start()
    yield server
    server.stop()


# -- the TCP proxy ----------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:port to an upstream port; can cut and refuse connections."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        # While set, new connections are reset at once (as if the server were unreachable).
        self._blocked = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name="proxy", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._blocked.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            with self._lock:
                self._sockets.update(pair.sockets)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(pair, source, target), daemon=True
                ).start()

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            # One side broke (or drop_all cut it): cut the other too.
            self._forget(pair.sockets, abrupt=True)
            return
        # An orderly end of this direction: pass the FIN on, so whatever was sent
        # before it (e.g. a WebSocket close frame) still arrives.
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
        if pair.one_direction_done():
            self._forget(pair.sockets, abrupt=False)

    def _forget(self, sockets: tuple[socket.socket, ...], abrupt: bool) -> None:
        with self._lock:
            known = [sock for sock in sockets if sock in self._sockets]
            self._sockets.difference_update(known)
        for sock in known:
            if abrupt:
                _reset(sock)
            else:
                sock.close()

    def drop_all(self) -> None:
        """Cuts every proxied connection (the browser sees its socket die)."""
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            _reset(sock)

    def block(self) -> None:
        """Cuts everything and refuses new connections until `unblock()`."""
        self._blocked.set()
        self.drop_all()

    def unblock(self) -> None:
        self._blocked.clear()

    def close(self) -> None:
        self._closing.set()
        self.drop_all()
        self._listener.close()
        self._thread.join(timeout=2)


class _Pair:
    """A proxied connection: the browser's socket and the upstream one."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.sockets = (client, upstream)
        self._done = 0
        self._lock = threading.Lock()

    def one_direction_done(self) -> bool:
        """Notes one direction finished; true when both have."""
        with self._lock:
            self._done += 1
            return self._done == 2


def _reset(sock: socket.socket) -> None:
    """Closes abruptly: wakes a thread blocked in recv, and no graceful goodbye."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture(scope="session")
def proxy(channelstream: ChannelstreamServer) -> Iterator[TcpProxy]:
    tcp_proxy = TcpProxy(channelstream.port)
    yield tcp_proxy
    tcp_proxy.close()


# -- the demo applications ----------------------------------------------------------


@dataclass
class DemoApp:
    framework: str
    url: str
    process: subprocess.Popen[bytes]


def start_demo(framework: str, server_url: str, public_url: str, log: Path) -> DemoApp:
    """One demo backend on a free port, served by waitress."""
    port = free_port()
    env = dict(
        os.environ,
        CHANNELSTREAM_URL=server_url,
        CHANNELSTREAM_PUBLIC_URL=public_url,
        CHANNELSTREAM_SECRET=SECRET,
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"demo.{framework}_app", "--listen", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = DemoApp(framework, f"http://127.0.0.1:{port}", process)
    try:
        wait_for_http(app.url + "/", process, log)
    except BaseException:
        stop_process(process)
        raise
    return app


@pytest.fixture(scope="session")
def demo_apps(
    channelstream: ChannelstreamServer, proxy: TcpProxy, logs: Path
) -> Iterator[dict[str, DemoApp]]:
    """Both demo backends; their pages reach channelstream through the proxy."""
    apps: dict[str, DemoApp] = {}
    try:
        for framework in ("pyramid", "flask"):
            log = logs / f"demo-{framework}.log"
            apps[framework] = start_demo(framework, channelstream.url, proxy.url, log)
        yield apps
    finally:
        for app in apps.values():
            stop_process(app.process)


@dataclass
class RedisStack:
    """channelstream on the Redis engine, with its own proxy and Pyramid demo."""

    channelstream: ChannelstreamServer
    proxy: TcpProxy
    demo: DemoApp


@pytest.fixture
def redis_stack(logs: Path) -> Iterator[RedisStack]:
    from tests.support.redis_server import RedisServer

    with RedisServer() as redis_server:
        server = ChannelstreamServer(
            free_port(),
            logs / "channelstream-redis.log",
            settings={
                "engine": "redis",
                "redis_url": redis_server.url,
                # Forget a silent connection quickly, so a test can make a page's
                # connection disappear and watch it connect again and resume.
                "gc_conns_after": "2",
                "gc_conns_interval": "0.5",
                "heartbeat_interval": "1",
            },
        )
        server.start()
        tcp_proxy = TcpProxy(server.port)
        demo: DemoApp | None = None
        try:
            demo = start_demo("pyramid", server.url, tcp_proxy.url, logs / "demo-redis.log")
            yield RedisStack(server, tcp_proxy, demo)
        finally:
            if demo is not None:
                stop_process(demo.process)
            tcp_proxy.close()
            server.stop()


# -- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        pytest.fail(
            f"chromium not found at {CHROMIUM}: install it (apt-get install -y chromium) "
            "or set CHROMIUM_PATH",
            pytrace=False,
        )
    # CHROMIUM_EXTRA_ARGS: e.g. "--auto-open-devtools-for-tabs" when debugging with headless=0.
    extra = os.environ.get("CHROMIUM_EXTRA_ARGS", "").split()
    browser = playwright_instance.chromium.launch(
        executable_path=executable, args=[*CHROMIUM_ARGS, *extra]
    )
    yield browser
    browser.close()


@dataclass
class ChatPage:
    """One user's chat page, with the helpers the tests assert through."""

    page: Page
    user: str
    channel: str
    console: list[str] = field(default_factory=list)

    @property
    def status(self) -> Any:
        return self.page.locator("#status")

    def expect_open(self, timeout: float = 15_000, transport: str | None = None) -> None:
        try:
            expect(self.status).to_have_attribute("data-status", "open", timeout=timeout)
            if transport:
                expect(self.status).to_have_attribute("data-transport", transport, timeout=timeout)
        except AssertionError as exc:
            console = "\n".join(self.console[-30:])
            raise AssertionError(f"{self.user}'s page is not open.\nconsole:\n{console}") from exc

    def say(self, text: str) -> None:
        self.page.fill("#message-input", text)
        self.page.click("#message-form button[type=submit]")

    def texts(self) -> list[str]:
        return self.page.locator("#messages li.message .text").all_inner_texts()

    def expect_text(self, text: str, timeout: float = 10_000) -> None:
        exact = re.compile("^" + re.escape(text) + "$")
        expect(self.page.locator("#messages li.message .text", has_text=exact).first).to_be_visible(
            timeout=timeout
        )

    def users(self) -> Any:
        return self.page.locator("#users li")

    def trace(self, key: str) -> Any:
        return self.page.evaluate(f"() => window.chatDemo.{key}")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def channel_name() -> str:
    """A channel of the test's own, so tests sharing a server do not see each other."""
    return "room-" + uuid.uuid4().hex[:8]


@pytest.fixture
def open_chat(
    browser: Browser, demo_apps: dict[str, DemoApp], channel_name: str
) -> Iterator[Callable[..., ChatPage]]:
    """Opens a chat page for a user in a fresh browser context (its own cookies), on one of
    the session's demo apps or, with `base_url`, on another one."""
    contexts: list[BrowserContext] = []

    def opener(
        user: str,
        framework: str = "pyramid",
        init_script: str | None = None,
        wait_open: bool = True,
        base_url: str | None = None,
    ) -> ChatPage:
        context = browser.new_context(viewport={"width": 1000, "height": 640})
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        chat = ChatPage(page, user, channel_name)
        page.on("console", lambda msg: chat.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: chat.console.append(f"pageerror: {exc}"))
        base = base_url or demo_apps[framework].url
        page.goto(f"{base}/?username={user}&channel={channel_name}")
        if wait_open:
            chat.expect_open()
        return chat

    yield opener
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()
