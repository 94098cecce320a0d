"""The admin panel's charts, pages and confirmations, in headless chromium against a real
server: the charts are full at once (the server keeps the samples) and their paths move
after publishing; the channel list pages in natural order; a disconnect asks first, and a
presence_grace stand-in can be ended from the panel."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.waiting import wait_until

from .admin_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    AdminPage,
    Connected,
    admin_fixture,
    new_admin_fixture,
    sign_in,
    ws_clients_fixture,
)
from .conftest import ChannelstreamServer, free_port

pytestmark = pytest.mark.browser

Connect = Callable[..., Connected]


def tag() -> str:
    return uuid.uuid4().hex[:6]


def samples(server: ChannelstreamServer) -> int:
    trends = server.api("GET", "/admin/summary.json").json()["trends"]
    return len(trends["connections"])


def path_of(admin: AdminPage, chart: str) -> str:
    return str(admin.page.locator(f"#chart-{chart} path.line").get_attribute("d") or "")


TRENDS = "window.channelstreamAdmin.view.data.summary.trends"


def drawn_end(admin: AdminPage) -> float:
    """When the newest sample the page last drew was taken (the node's clock)."""
    return float(admin.page.evaluate(f"() => {TRENDS}.end"))


def peak_since(admin: AdminPage, series: str, since: float) -> float:
    """The highest sample of a series taken after `since`, as the page last drew it. Not
    the newest few whatever their age: the session's server carries other tests' bursts."""
    return float(
        admin.page.evaluate(
            f"""() => {{
                const trends = {TRENDS};
                const newer = Math.round((trends.end - {since}) / trends.interval);
                return newer > 0 ? Math.max(0, ...trends.{series}.slice(-newer)) : 0;
            }}"""
        )
    )


def connected(server: ChannelstreamServer, conn_id: str) -> bool:
    summary = server.api("GET", "/admin/admin.json").json()
    return any(conn_id in user["connections"] for user in summary["users"])


@pytest.mark.timeout(90)
def test_the_charts_are_full_at_once_and_move_after_publishing(
    new_admin: Callable[..., AdminPage], ws_clients: Connect, channelstream: ChannelstreamServer
) -> None:
    channel = f"chart-{tag()}"
    listener = ws_clients(channels=[channel], channel_configs={channel: {"store_history": True}})
    wait_until(lambda: samples(channelstream) >= 3, timeout=10, what="three samples")
    admin = new_admin()
    page = admin.page
    # Drawn from the server's samples at the first poll, not from what this page has seen.
    points = int(page.locator("#chart-connections").get_attribute("data-points") or 0)
    assert points >= 3 and admin.polls() <= 2
    assert path_of(admin, "connections").count("L") == points - 1
    before = {name: path_of(admin, name) for name in ("messages", "deliveries")}
    burst_after = drawn_end(admin)
    for n in range(40):
        item = {"channel": channel, "user": "bot", "message": {"n": n}}
        channelstream.api("POST", "/message", [item]).raise_for_status()
    listener.ws.messages(40, timeout=10, type_="message")
    # The burst (40 in a second or two) shows in the newest samples the page drew, and the
    # lines changed with it.
    for name in ("messages", "deliveries"):
        wait_until(
            lambda name=name: peak_since(admin, name, burst_after) >= 5,
            timeout=10,
            what=f"the burst in the {name} chart",
        )
        assert path_of(admin, name) != before[name]
        assert float(page.locator(f"#chart-{name}").get_attribute("data-peak") or 0) >= 5
    # And with the next samples, without publishing, the lines still move along.
    moved = path_of(admin, "messages")
    wait_until(lambda: path_of(admin, "messages") != moved, timeout=10, what="the line to move")
    expect(page.locator("#chart-transports")).to_contain_text("WebSocket")

    # The channel view draws the channel's own rate.
    admin.open_channel(channel)
    chart = page.locator("#chart-channel")
    expect(chart).to_be_visible()
    expect(chart).not_to_have_attribute("data-peak", "0", timeout=5_000)
    assert path_of(admin, "channel").startswith("M")
    admin.screenshot("admin-charts", full_page=False)
    assert not [line for line in admin.console if line.startswith(("error", "pageerror"))], (
        admin.console
    )


@pytest.mark.timeout(90)
def test_the_channel_list_pages_in_natural_order(admin: AdminPage, ws_clients: Connect) -> None:
    prefix = f"pg{tag()}-"
    ws_clients(channels=[f"{prefix}{n}" for n in range(1, 61)])
    page = admin.page
    page.get_by_label("Filter channels").fill(prefix)
    rows = page.locator("#channels-table tbody tr")
    expect(page.locator("#channels-range")).to_have_text("1\u201350 of 60", timeout=5_000)
    expect(rows).to_have_count(50)
    names = [row.get_attribute("data-channel") for row in rows.all()[:3]]
    assert names == [f"{prefix}1", f"{prefix}2", f"{prefix}3"]
    expect(rows.nth(9)).to_have_attribute("data-channel", f"{prefix}10")
    expect(page.get_by_role("button", name="Previous page").first).to_be_disabled()

    page.locator("#channels-next").click()
    expect(page.locator("#channels-range")).to_have_text("51\u201360 of 60")
    expect(rows).to_have_count(10)
    expect(rows.first).to_have_attribute("data-channel", f"{prefix}51")
    expect(page.locator("#channels-next")).to_be_disabled()
    page.locator("#channels-prev").click()
    expect(rows.first).to_have_attribute("data-channel", f"{prefix}1")

    page.get_by_label("Sort", exact=True).first.select_option("-name")
    expect(rows.first).to_have_attribute("data-channel", f"{prefix}60")
    expect(rows.nth(1)).to_have_attribute("data-channel", f"{prefix}59")
    # Paging stays while the page polls.
    page.locator("#channels-next").click()
    expect(rows.first).to_have_attribute("data-channel", f"{prefix}10")
    polls = admin.polls()
    wait_until(lambda: admin.polls() > polls + 1, timeout=5, what="two more polls")
    expect(rows.first).to_have_attribute("data-channel", f"{prefix}10")
    expect(page.locator("#channels-range")).to_have_text("51\u201360 of 60")


@pytest.mark.timeout(90)
def test_a_disconnect_asks_first(
    admin: AdminPage, ws_clients: Connect, channelstream: ChannelstreamServer
) -> None:
    channel = f"ask-{tag()}"
    victim = ws_clients(channels=[channel])
    page = admin.page
    button = page.locator(f'#users-table button[data-conn-id="{victim.conn_id}"]')
    dialog = page.get_by_role("dialog")

    # Dismissed, by Cancel and by Escape: still connected.
    button.click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Connection {victim.conn_id[:8]} of {victim.user}")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    button.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(1500)  # a disconnect would be collected by now (gc every 0.5 s)
    assert connected(channelstream, victim.conn_id)
    expect(button).to_be_enabled()

    # Accepted: disconnected.
    button.click()
    dialog.get_by_role("button", name="Disconnect").click()
    expect(page.locator("#toast")).to_contain_text(f"Disconnected {victim.user}'s connection")
    code, _reason = victim.ws.close_frame(timeout=10)
    assert code == 1000
    wait_until(lambda: not connected(channelstream, victim.conn_id), timeout=5, what="gone")


@pytest.fixture
def grace_server(logs: Path) -> Iterator[ChannelstreamServer]:
    server = ChannelstreamServer(
        free_port(),
        logs / "channelstream-grace.log",
        settings={"presence_grace": "300", "gc_conns_interval": "0.5"},
    )
    server.start()
    yield server
    server.stop()


@pytest.mark.timeout(90)
def test_a_stand_in_can_be_ended_from_the_panel(
    browser: Browser, grace_server: ChannelstreamServer
) -> None:
    user = f"ghost-{tag()}"
    conn_id = grace_server.api("POST", "/connect", {"username": user, "channels": ["hall"]}).json()[
        "conn_id"
    ]
    grace_server.api("POST", "/disconnect", {"conn_id": conn_id}).raise_for_status()
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, grace_server)
        expect(page).to_have_url(re.compile(r"/admin$"))
        # The connection went; a stand-in holds the user's presence for the grace.
        item = page.locator(f'#users-table tr[data-user="{user}"] li[data-stand-in="true"]')
        expect(item).to_be_visible(timeout=10_000)
        expect(item.locator(".badge")).to_have_text("stand-in")
        item.get_by_role("button").click()
        dialog = page.get_by_role("dialog", name=f"End {user}'s presence?")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="End presence").click()
        # Not a 422 any more: done, and the user leaves the channel at the next collection.
        expect(page.locator("#toast")).to_contain_text(f"Disconnected {user}'s connection")
        expect(page.locator(f'#users-table tr[data-user="{user}"]')).to_have_count(
            0, timeout=10_000
        )
        info = grace_server.api("POST", "/info", {"info": {"channels": ["hall"]}}).json()
        assert user not in info["channels"].get("hall", {}).get("users", [])
        assert errors == []
    finally:
        context.close()
