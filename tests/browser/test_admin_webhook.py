"""The admin panel's webhook section, in the real browser: off without a webhook_url; with
one, what waits, what failed and since when while the backend is down, then delivery."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import free_port
from tests.support.webhook_receiver import Receiver, receiving

from .admin_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    AdminPage,
    admin_fixture,
    new_admin_fixture,
    sign_in,
)
from .conftest import ChannelstreamServer

pytestmark = pytest.mark.browser

WEBHOOK_SECRET = "admin-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    with receiving(WEBHOOK_SECRET) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def hooked(hook: Receiver, logs: Path) -> Iterator[ChannelstreamServer]:
    server = ChannelstreamServer(
        free_port(),
        logs / "channelstream-admin-webhook.log",
        settings={
            "webhook_url": hook.url,
            "webhook_secret": WEBHOOK_SECRET,
            "webhook_timeout": "1",
        },
    )
    server.start()
    yield server
    server.stop()


def open_admin(browser: Browser, server: ChannelstreamServer) -> AdminPage:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, server)
    admin = AdminPage(page, context, server)
    admin.expect_live()
    return admin


@pytest.mark.timeout(60)
def test_the_panel_shows_a_failing_webhook_then_its_recovery(
    browser: Browser, hooked: ChannelstreamServer, hook: Receiver
) -> None:
    hook.status = 503
    admin = open_admin(browser, hooked)
    try:
        panel = admin.page.locator("#webhook-panel")
        assert hooked.api("POST", "/connect", {"username": "wh-alice"}).status_code == 200
        expect(panel).to_have_attribute("data-state", "failing", timeout=10_000)
        expect(admin.page.locator("#webhook-status")).to_contain_text("503")
        expect(admin.page.locator("#webhook-pending")).to_have_attribute("data-value", "1")
        expect(admin.page.locator("#webhook-failures")).not_to_have_attribute("data-value", "0")
        expect(admin.page.locator("#webhook-sender")).to_have_text("this node")
        admin.screenshot("admin-webhook-failing")
        hook.status = 204
        expect(panel).to_have_attribute("data-state", "ok", timeout=15_000)
        expect(admin.page.locator("#webhook-pending")).to_have_attribute("data-value", "0")
        expect(admin.page.locator("#webhook-last-success")).to_have_text(re.compile(r"UTC$"))
        expect(admin.page.locator("#webhook-url")).to_have_text(hook.url)
    finally:
        admin.context.close()


def test_without_a_webhook_the_panel_says_it_is_off(admin: AdminPage) -> None:
    expect(admin.page.locator("#webhook-panel")).to_have_attribute("data-state", "off")
    expect(admin.page.locator("#webhook-status")).to_contain_text("Off")
    expect(admin.page.locator("#webhook-panel .webhook-details")).to_be_hidden()
