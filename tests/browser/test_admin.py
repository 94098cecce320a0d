"""The admin panel and the API explorer, in headless chromium against a real server.

Assertions are on what the page shows; the effects of its actions are checked from
the outside (a real WebSocket client, the chat demo's page, the server API).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
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
from .conftest import ChannelstreamServer, ChatPage

pytestmark = pytest.mark.browser

Connect = Callable[..., Connected]
OpenChat = Callable[..., ChatPage]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def number(text: str) -> int:
    return int(text.replace(",", ""))


# -- signing in and out ---------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_sign_in_wrong_then_right_password_and_sign_out(
    browser: Browser, channelstream: ChannelstreamServer
) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = context.new_page()
        sign_in(page, channelstream, password="not-the-password")
        error = page.get_by_role("alert")
        expect(error).to_have_text("Wrong user name or password.")
        expect(page).to_have_url(re.compile(r"/admin/sign_in$"))
        # The user name is kept; the password field points at the error.
        expect(page.get_by_label("User name")).to_have_value("admin")
        expect(page.get_by_label("Password")).to_be_focused()
        expect(page.get_by_label("Password")).to_have_attribute("aria-describedby", "sign-in-error")
        page.screenshot(path=str(_screenshot_path("admin-sign-in-error")))

        sign_in(page, channelstream)
        expect(page).to_have_url(re.compile(r"/admin$"))
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(page.locator("#stat-connections")).to_have_text(re.compile(r"^[\d,]+$"))
        expect(page.locator("#version")).to_have_text(re.compile(r"^v\d"))

        # Signing out in another tab: this one says so, and stops polling.
        other = context.new_page()
        other.goto(channelstream.url + "/admin")
        other.get_by_role("link", name="Sign out").click()
        expect(other).to_have_url(re.compile(r"/admin/sign_in$"))
        expect(page.get_by_role("alert")).to_contain_text("Your admin session has ended.")
        expect(page.locator("#live")).to_have_attribute("data-state", "off")
        page.get_by_role("link", name="Sign in again").click()
        expect(page).to_have_url(re.compile(r"/admin/sign_in$"))
        page.goto(channelstream.url + "/admin")
        expect(page).to_have_url(re.compile(r"/admin/sign_in$"))
        # The panel's API refuses a signed-out browser, with JSON.
        answer = page.request.post(
            channelstream.url + "/admin/api/disconnect", data={"conn_id": str(uuid.uuid4())}
        )
        assert answer.status == 403
        assert "request" in answer.json()
    finally:
        context.close()


# -- the live dashboard -----------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_dashboard_numbers_change_live_as_clients_connect(
    admin: AdminPage, ws_clients: Connect, channelstream: ChannelstreamServer
) -> None:
    page = admin.page
    # A mark that a reload would wipe out.
    page.evaluate("() => { window.__sameDocument = true; }")
    connections = admin.stat("connections")
    before = number(connections.inner_text())
    channel = unique("dash")

    config = {channel: {"store_history": True, "notify_presence": True}}
    first = ws_clients(
        channels=[channel],
        channel_configs=config,
        user_state={"status": "online", "secret_note": "hidden"},
        state_public_keys=["status"],
    )
    second = ws_clients(
        channels=[channel], user_state={"status": "away"}, state_public_keys=["status"]
    )

    # The new channel shows up with its two connections, and the total moves, by polling.
    row = admin.channel_row(channel)
    expect(row).to_be_visible(timeout=5_000)
    expect(row.locator("td").nth(2)).to_have_text("2", timeout=5_000)
    expect(row.locator("td").nth(1)).to_have_text("2")
    expect(connections).not_to_have_text(str(before), timeout=5_000)
    server_total = channelstream.api("GET", "/admin/admin.json").json()["total_connections"]
    expect(connections).to_have_attribute("data-value", str(server_total), timeout=5_000)
    for client, status in ((first, "online"), (second, "away")):
        row = page.locator(f'#users-table tr[data-user="{client.user}"]')
        expect(row).to_be_visible()
        # Public state only.
        expect(row.locator("td").nth(1)).to_have_text(f'status: "{status}"')

    # Messages per second follow a steady trickle of published messages.
    deadline = time.monotonic() + 4
    sent = 0
    while time.monotonic() < deadline:
        item = {"channel": channel, "user": "bot", "message": {"text": f"tick {sent}"}}
        channelstream.api("POST", "/message", [item]).raise_for_status()
        sent += 1
        time.sleep(0.1)
    rate = admin.stat("rate")
    expect(rate).not_to_have_text(re.compile("^(0\\.0|\u2013)$"), timeout=5_000)
    assert float(rate.inner_text().replace(",", "")) > 1
    expect(admin.stat("deliveries")).to_contain_text("deliveries / s")
    admin.expect_live()
    assert page.evaluate("() => window.__sameDocument") is True
    assert admin.polls() > 3

    # Filters narrow the tables down.
    page.get_by_label("Filter channels").fill(channel[-6:])
    expect(page.locator("#channels-table tbody tr")).to_have_count(1)
    page.get_by_label("Filter channels").fill("no-such-channel-here")
    expect(page.locator("#channels-table tbody tr")).to_have_count(0)
    expect(page.locator("#channels-empty")).to_have_text("No channel matches the filter.")
    page.get_by_label("Filter channels").fill("")
    page.get_by_label("Filter users").fill(first.user)
    expect(page.locator("#users-table tbody tr")).to_have_count(1)
    page.get_by_label("Filter users").fill("")

    # Updates can be paused (and resumed) from the keyboard.
    pause = page.get_by_role("button", name="Pause updates")
    pause.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#live")).to_have_attribute("data-state", "paused")
    expect(page.get_by_role("button", name="Resume updates")).to_have_attribute(
        "aria-pressed", "true"
    )
    paused_at = admin.polls()
    page.wait_for_timeout(2500)
    assert admin.polls() <= paused_at + 1
    page.keyboard.press("Enter")
    admin.expect_live()

    admin.open_channel(channel)
    expect(page.locator("#history li")).to_have_count(10)
    expect(page.locator("#history li pre").first).to_contain_text(f"tick {sent - 1}")
    users = page.locator("#channel-users tbody tr")
    expect(users).to_have_count(2)
    admin.screenshot("admin-dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    # Narrow: no horizontal scrolling, the numbers still readable.
    expect(connections).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    admin.screenshot("admin-dashboard-narrow")
    assert not [line for line in admin.console if line.startswith(("error", "pageerror"))], (
        admin.console
    )


# -- actions ------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_test_message_from_the_panel_reaches_a_websocket_and_a_chat_page(
    admin: AdminPage, ws_clients: Connect, open_chat: OpenChat, channel_name: str
) -> None:
    chat = open_chat("carol")
    listener = ws_clients(channels=[channel_name])
    page = admin.page
    admin.open_channel(channel_name)

    text = "hello from the admin panel " + uuid.uuid4().hex[:6]
    page.get_by_label("As user").fill("admin-bot")
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Publish").click()
    result = page.locator("#publish-result")
    expect(result).to_have_attribute("data-kind", "ok")
    expect(result).to_contain_text(f"to {channel_name}")

    messages = listener.ws.messages(1, timeout=10, type_="message")
    assert messages[0]["message"] == {"text": text}
    assert messages[0]["user"] == "admin-bot"
    assert messages[0]["channel"] == channel_name
    chat.expect_text(text)
    # The demo's channels keep history: the panel's channel view lists the message.
    expect(page.locator("#history li pre", has_text=text)).to_be_visible(timeout=5_000)

    # A JSON object is sent as it is (Ctrl+Enter sends); an empty message is refused.
    page.get_by_label("Message", exact=True).fill('{"text": "as json", "n": 1}')
    page.get_by_label("Message", exact=True).press("Control+Enter")
    later = listener.ws.messages(2, timeout=10, type_="message")
    assert later[1]["message"] == {"text": "as json", "n": 1}
    page.get_by_role("button", name="Publish").click()
    expect(result).to_have_text("Enter a message.")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()


@pytest.mark.timeout(90)
def test_channel_config_changes_from_the_panel(
    admin: AdminPage, ws_clients: Connect, channelstream: ChannelstreamServer
) -> None:
    channel = unique("cfg")
    ws_clients(channels=[channel])
    page = admin.page
    admin.open_channel(channel)
    store_history = page.get_by_label("Store history")
    expect(store_history).not_to_be_checked()
    # Polling must not undo what is being edited.
    store_history.check()
    page.get_by_label("History size").fill("3")
    page.wait_for_timeout(1500)
    expect(store_history).to_be_checked()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#config-result")).to_have_text(f"Saved the settings of {channel}.")

    info = channelstream.api("POST", "/info", {"info": {"channels": [channel]}}).json()
    settings = info["channels"][channel]["settings"]
    assert settings["store_history"] is True
    assert settings["history_size"] == 3

    for n in range(5):
        channelstream.api(
            "POST", "/message", [{"channel": channel, "user": "bot", "message": {"text": f"m{n}"}}]
        ).raise_for_status()
    # Only the newest three are kept, newest first on the page.
    history = page.locator("#history li pre")
    expect(history).to_have_count(3, timeout=5_000)
    assert [re.sub(r"\s+", "", t) for t in history.all_inner_texts()] == [
        '{"text":"m4"}',
        '{"text":"m3"}',
        '{"text":"m2"}',
    ]

    # A bad value is refused on the page, and the server is not asked.
    page.get_by_label("History size").fill("-2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#config-result")).to_have_attribute("data-kind", "error")
    expect(page.get_by_label("History size")).to_be_focused()
    info = channelstream.api("POST", "/info", {"info": {"channels": [channel]}}).json()
    assert info["channels"][channel]["settings"]["history_size"] == 3

    # Escape closes the channel view and puts focus back on the channel's link.
    page.locator("#channel-title").focus()
    page.keyboard.press("Escape")
    expect(page.locator("#channel-view")).to_be_hidden()
    expect(admin.channel_row(channel).get_by_role("link")).to_be_focused()


@pytest.mark.timeout(90)
def test_disconnect_from_the_panel_closes_the_websocket(
    admin: AdminPage, ws_clients: Connect, channelstream: ChannelstreamServer
) -> None:
    channel = unique("bye")
    victim = ws_clients(channels=[channel])
    bystander = ws_clients(channels=[channel])
    page = admin.page
    button = page.locator(f'#users-table button[data-conn-id="{victim.conn_id}"]')
    expect(button).to_be_visible(timeout=5_000)
    # With the keyboard: Enter asks first (Cancel has the focus), Tab, Enter confirms.
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Disconnect {victim.user}?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Disconnect")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#toast")).to_contain_text(f"Disconnected {victim.user}'s connection")

    code, _reason = victim.ws.close_frame(timeout=10)
    assert code == 1000
    expect(page.locator(f'#users-table tr[data-user="{victim.user}"]')).to_have_count(
        0, timeout=5_000
    )
    expect(page.locator(f'#users-table tr[data-user="{bystander.user}"]')).to_be_visible()
    summary = channelstream.api("GET", "/admin/admin.json").json()
    conns = {conn for user in summary["users"] for conn in user["connections"]}
    assert victim.conn_id not in conns
    assert bystander.conn_id in conns


@pytest.mark.timeout(90)
def test_disconnect_from_the_panel_closes_a_chat_pages_connection(
    admin: AdminPage, open_chat: OpenChat, channel_name: str
) -> None:
    chat = open_chat("dave")
    conn_id = chat.page.evaluate("() => window.chatDemo.connection.connectionId")
    statuses_before = len(chat.trace("statuses"))
    page = admin.page
    admin.open_channel(channel_name)
    button = page.locator(f'#channel-users button[data-conn-id="{conn_id}"]')
    expect(button).to_be_visible(timeout=5_000)
    button.click()
    page.get_by_role("dialog").get_by_role("button", name="Disconnect").click()
    expect(page.locator("#toast")).to_contain_text("Disconnected dave's connection")

    # The page notices its socket was closed (its status leaves "open")...
    wait_until(
        lambda: any(status != "open" for status in chat.trace("statuses")[statuses_before:]),
        timeout=10,
        what="the page's status to leave 'open'",
        interval=0.1,
    )
    # ... and that connection is gone from the server.
    expect(page.locator(f'button[data-conn-id="{conn_id}"]')).to_have_count(0, timeout=5_000)


@pytest.mark.timeout(60)
def test_admin_api_refuses_strangers_and_bad_bodies(
    channelstream: ChannelstreamServer, ws_clients: Connect
) -> None:
    from .conftest import ADMIN_SECRET

    url = channelstream.url
    channel = unique("api")
    client = ws_clients(channels=[channel])
    anonymous = requests.post(url + "/admin/api/disconnect", json={"conn_id": client.conn_id})
    assert anonymous.status_code == 403
    assert anonymous.json() == {"request": "Sign in as the admin first."}

    session = requests.Session()
    signed_in = session.post(
        url + "/admin/sign_in", data={"username": "admin", "password": ADMIN_SECRET}
    )
    assert signed_in.status_code == 200
    not_json = session.post(url + "/admin/api/message", data="hello")
    assert not_json.status_code == 400
    cross_site = session.post(
        url + "/admin/api/message",
        json=[{"channel": channel, "user": "x"}],
        headers={"Origin": "http://elsewhere.example"},
    )
    assert cross_site.status_code == 403
    # Behind a TLS-terminating proxy the browser's origin is https: the host is what counts.
    proxied = session.post(
        url + "/admin/api/message",
        json=[{"channel": channel, "user": "x"}],
        headers={"Origin": url.replace("http://", "https://")},
    )
    assert proxied.status_code == 200, proxied.text
    invalid = session.post(url + "/admin/api/message", json=[{"channel": channel}])
    assert invalid.status_code == 422
    assert invalid.json() == {"0": {"user": ["Missing data for required field."]}}
    unknown = session.post(
        url + "/admin/api/channel_config",
        json={"channel": unique("nope"), "config": {"store_history": True}},
    )
    assert unknown.status_code == 404
    bad_config = session.post(
        url + "/admin/api/channel_config",
        json={"channel": channel, "config": {"history_size": "many"}},
    )
    assert bad_config.status_code == 422
    assert "history_size" in bad_config.json()["config"]
    assert session.get(url + "/admin/api/disconnect").status_code == 405
    # The API signature is as good as the cookie (backends may script the panel's actions).
    signed = requests.post(
        url + "/admin/api/disconnect",
        json={"conn_id": client.conn_id},
        headers=channelstream.signed_headers(),
    )
    assert signed.status_code == 200
    assert signed.json() == {"conn_id": client.conn_id, "disconnected": True}


# -- the API explorer --------------------------------------------------------------------------

ENDPOINTS = {
    "/connect": {"post"},
    "/subscribe": {"post"},
    "/unsubscribe": {"post"},
    "/user_state": {"post"},
    "/message": {"post", "patch", "delete"},
    "/channel_config": {"post"},
    "/info": {"get", "post"},
    "/disconnect": {"get", "post"},
    "/listen": {"get"},
    "/ws": {"get"},
    "/admin/admin.json": {"get", "post"},
    "/admin/summary.json": {"get"},
    "/admin/channels.json": {"get"},
    "/admin/users.json": {"get"},
    "/admin/channel.json": {"get"},
    "/health": {"get"},
    "/admin/api/message": {"post"},
    "/admin/api/channel_config": {"post"},
    "/admin/api/disconnect": {"post"},
    "/admin/sign_in": {"get", "post"},
    "/admin/sign_out": {"get"},
    "/openapi.json": {"get"},
    "/api-explorer": {"get"},
}
# Their answers are HTML or redirects, not JSON.
NOT_JSON = ("/admin/sign_in", "/admin/sign_out", "/api-explorer")

# Their POST takes no body (or an optional one).
NO_BODY = ("/info", "/admin/admin.json", "/openapi.json")


def _refs(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def response_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    answer = responses.get("200") or responses["101"]
    return resolve(document, answer["content"]["application/json"]["schema"])


@pytest.mark.timeout(60)
def test_openapi_document_lists_every_endpoint_with_schemas(
    channelstream: ChannelstreamServer,
) -> None:
    assert requests.get(channelstream.url + "/openapi.json", timeout=10).status_code == 403
    answer = channelstream.api("GET", "/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": channelstream.url}]
    # Every reference points at something the document defines.
    refs = list(_refs(document))
    assert refs
    for ref in refs:
        _, section, kind, name = ref.split("/")
        assert name in document[section][kind], ref
    paths = document["paths"]
    for path, methods in ENDPOINTS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
        if path in NOT_JSON:
            continue
        for method in methods:
            operation = paths[path][method]
            assert response_schema(document, path, method), (path, method)
            if method in ("post", "patch", "delete") and path not in NO_BODY:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert resolve(document, body), (path, method)
    # Request schemas come from the marshmallow schemas, validation included.
    connect = resolve(
        document, paths["/connect"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert connect["required"] == ["username"]
    assert connect["properties"]["username"]["maxLength"] == 512
    message = resolve(
        document,
        paths["/message"]["post"]["requestBody"]["content"]["application/json"]["schema"]["items"],
    )
    assert {"channel", "pm_users", "exclude_users", "no_history", "uuid", "message"} <= set(
        message["properties"]
    )
    # Response schemas name every key the server really answers with.
    real = channelstream.api("POST", "/connect", {"username": unique("doc"), "channels": ["d"]})
    documented = response_schema(document, "/connect", "post")["properties"]
    assert set(real.json()) <= set(documented)
    info = resolve(
        document,
        resolve(document, documented["channels_info"])["properties"]["channels"][
            "additionalProperties"
        ],
    )
    assert set(real.json()["channels_info"]["channels"]["d"]) <= set(info["properties"])
    summary = channelstream.api("GET", "/admin/admin.json").json()
    assert set(summary) <= set(response_schema(document, "/admin/admin.json", "get")["properties"])
    published = channelstream.api("POST", "/message", [{"channel": "d", "user": "u"}]).json()
    items = document["paths"]["/message"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["items"]
    assert set(published[0]) <= set(resolve(document, items)["properties"])


@pytest.mark.timeout(90)
def test_api_explorer_renders_swagger_ui_for_admins_only(
    browser: Browser, admin: AdminPage, channelstream: ChannelstreamServer
) -> None:
    anonymous = browser.new_context()
    try:
        page = anonymous.new_page()
        page.goto(channelstream.url + "/api-explorer")
        expect(page).to_have_url(re.compile(r"/admin/sign_in$"))
    finally:
        anonymous.close()

    page = admin.page
    page.get_by_role("link", name="API explorer").click()
    expect(page).to_have_url(re.compile(r"/api-explorer$"))
    connect = page.locator("#operations-server_API-post_connect")
    expect(connect).to_be_visible(timeout=15_000)
    expect(connect.locator(".opblock-summary-path")).to_have_text(re.compile(r"/connect"))
    expect(page.locator(".opblock-summary-path", has_text="/admin/api/disconnect")).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("channelstream")
    # Swagger UI found nothing wrong with the document (it lists resolver errors here).
    expect(page.locator(".errors-wrapper")).to_have_count(0)
    # Open one: its request body schema is there.
    connect.locator(".opblock-summary").click()
    expect(connect.locator(".opblock-section-request-body")).to_be_visible()
    expect(connect.get_by_text("username", exact=False).first).to_be_visible()
    # "Try it out" against the live server, with the admin's cookie: admin.json answers.
    admin_json = page.locator("#operations-admin-get_admin_admin_json")
    admin_json.locator(".opblock-summary").click()
    admin_json.get_by_role("button", name="Try it out").click()
    admin_json.get_by_role("button", name="Execute").click()
    expect(admin_json.locator(".response .response-col_status").first).to_have_text(
        re.compile("200"), timeout=10_000
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    admin.screenshot("api-explorer", full_page=False)


def _screenshot_path(name: str) -> Any:
    from .conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
