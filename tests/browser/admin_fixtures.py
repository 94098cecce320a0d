"""Fixtures of the admin panel's browser tests, on top of conftest's server and browser.

- ``admin``: a signed-in admin's page (its own browser context), with helpers.
- ``ws_clients``: real WebSocket clients connected through the server API.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.clients import WSClient

from .conftest import ADMIN_SECRET, SCREENSHOTS, ChannelstreamServer

ADMIN_USER = "admin"


@dataclass
class AdminPage:
    page: Page
    context: BrowserContext
    server: ChannelstreamServer
    console: list[str] = field(default_factory=list)

    def goto(self, fragment: str = "") -> None:
        self.page.goto(self.server.url + "/admin" + fragment)
        self.expect_live()

    def expect_live(self, timeout: float = 10_000) -> None:
        expect(self.page.locator("#live")).to_have_attribute("data-state", "live", timeout=timeout)

    def stat(self, name: str) -> Any:
        return self.page.locator(f"#stat-{name}")

    def polls(self) -> int:
        return int(self.page.evaluate("() => window.channelstreamAdmin.polls"))

    def open_channel(self, channel: str) -> None:
        """Through the channels table, with the keyboard: focus the link, press Enter."""
        link = self.page.locator(
            "#channels-table tr", has=self.page.get_by_role("link", name=channel, exact=True)
        ).get_by_role("link", name=channel, exact=True)
        expect(link).to_be_visible(timeout=10_000)
        link.focus()
        self.page.keyboard.press("Enter")
        expect(self.page.locator("#channel-title")).to_have_text(f"Channel: {channel}")
        expect(self.page.locator("#channel-title")).to_be_focused()

    def channel_row(self, channel: str) -> Any:
        return self.page.locator(f'#channels-table tr[data-channel="{channel}"]')

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def sign_in(page: Page, server: ChannelstreamServer, password: str = ADMIN_SECRET) -> None:
    """Signs in with the keyboard only: type, Tab, type, Enter."""
    page.goto(server.url + "/admin")
    expect(page).to_have_url(re.compile(r"/admin/sign_in$"))
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type(ADMIN_USER)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")


@pytest.fixture(name="new_admin")
def new_admin_fixture(
    browser: Browser, channelstream: ChannelstreamServer
) -> Iterator[Callable[..., AdminPage]]:
    contexts: list[BrowserContext] = []

    def opener(width: int = 1280, height: int = 860) -> AdminPage:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        admin = AdminPage(page, context, channelstream)
        page.on("console", lambda msg: admin.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: admin.console.append(f"pageerror: {exc}"))
        sign_in(page, channelstream)
        expect(page).to_have_url(re.compile(r"/admin$"))
        admin.expect_live()
        return admin

    yield opener
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


@pytest.fixture(name="admin")
def admin_fixture(new_admin: Callable[..., AdminPage]) -> AdminPage:
    return new_admin()


@dataclass
class Connected:
    user: str
    conn_id: str
    ws: WSClient


@pytest.fixture(name="ws_clients")
def ws_clients_fixture(channelstream: ChannelstreamServer) -> Iterator[Callable[..., Connected]]:
    """connect(user, channels, **body): /connect over the server API, then /ws."""
    clients: list[WSClient] = []
    ws_url = channelstream.url.replace("http://", "ws://", 1)

    def connect(
        user: str | None = None, channels: list[str] | None = None, **body: Any
    ) -> Connected:
        user = user or "user-" + uuid.uuid4().hex[:6]
        answer = channelstream.api(
            "POST", "/connect", {"username": user, "channels": channels or [], **body}
        )
        assert answer.status_code == 200, answer.text
        conn_id = answer.json()["conn_id"]
        client = WSClient(ws_url, conn_id)
        clients.append(client)
        return Connected(user, conn_id, client)

    yield connect
    for client in clients:
        client.close()
