"""The admin side: sign in and out with a cookie, the admin page and admin.json."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import gevent
from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response

from channelstream import presenters, security
from channelstream.runtime import runtime_of
from channelstream.schemas import responses
from channelstream.views.body import form_fields
from channelstream.views.errors import json_response
from channelstream.views.helpers import state_of
from channelstream.views.openapi import documented

if TYPE_CHECKING:
    from pyramid.request import Request

SIGN_IN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: channelstream admin</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body class="sign-in">
<main class="card sign-in-card" aria-labelledby="sign-in-title">
<h1 id="sign-in-title"><span class="logo" aria-hidden="true">&#x25C9;</span>
channelstream admin</h1>
{error}
<form method="post" action="{action}" class="stack">
<div class="field"><label for="username">User name</label>
<input id="username" name="username" autocomplete="username" value="{username}" required
{focus_user}></div>
<div class="field"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
 required{error_describedby}{focus_password}></div>
<button type="submit" class="primary">Sign in</button></form></main></body></html>
"""


# The panel's page (channelstream/static/admin/index.html) names its URLs with these.
PAGE_URLS = {
    "{{static}}": ("static", "channelstream:static/admin/"),
    "{{admin}}": ("route", "channelstream.admin"),
    "{{admin_json}}": ("route", "channelstream.admin_json"),
    "{{summary}}": ("route", "channelstream.admin_summary"),
    "{{channels}}": ("route", "channelstream.admin_channels"),
    "{{users}}": ("route", "channelstream.admin_users"),
    "{{channel}}": ("route", "channelstream.admin_channel"),
    "{{sign_out}}": ("route", "channelstream.admin_sign_out"),
    "{{api_message}}": ("route", "channelstream.admin_api_message"),
    "{{api_channel_config}}": ("route", "channelstream.admin_api_channel_config"),
    "{{api_disconnect}}": ("route", "channelstream.admin_api_disconnect"),
    "{{api_explorer}}": ("route", "channelstream.api_explorer"),
}


def fill_page(request: Request, page: str) -> str:
    """Replace the page's URL placeholders, so it works under any mount point."""
    for placeholder, (kind, name) in PAGE_URLS.items():
        if placeholder not in page:
            continue
        if kind == "static":
            url = request.static_url(name)
        else:
            url = request.route_url(name)
        page = page.replace(placeholder, html.escape(url))
    return page


class AdminViews:
    """admin_page and admin_json are added with the ADMIN_PAGE guard (``views.guards``)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state = state_of(request)

    def _to_sign_in(self) -> HTTPFound:
        return HTTPFound(self.request.route_url("channelstream.admin_sign_in"))

    @documented(
        "Sign in: sets the admin cookie",
        method="POST",
        tag="admin",
        body={
            "type": "object",
            "properties": {
                "username": {"type": "string"},
                "password": {"type": "string", "format": "password"},
            },
            "required": ["username", "password"],
        },
        body_media="application/x-www-form-urlencoded",
        responses={
            "302": {"description": "Signed in: to /admin, with the cookie."},
            "400": "BadRequest",
            "401": {
                "description": "Wrong user name or password: the form again.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "429": {
                "description": "Too many failed sign-ins from this address or for this user "
                "name: the form again, with Retry-After (seconds).",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        },
    )
    @documented(
        "The sign-in form",
        method="GET",
        tag="admin",
        answer={"type": "string"},
        answer_description="HTML.",
        answer_media="text/html",
    )
    def sign_in(self) -> Response:
        if self.request.method != "POST":
            return self._sign_in_page()
        settings = self.state.settings
        form = form_fields(self.request, settings.max_body_size)
        username = form.get("username", "").strip()
        password = form.get("password", "")
        address = security.client_address(self.request, settings)
        throttle = runtime_of(self.request).sign_in_throttle
        wait = math.ceil(throttle.retry_after(address, username))
        if wait > 0:
            page = self._sign_in_page(
                username, f"Too many failed sign-ins: try again in {wait} s.", status=429
            )
            page.headers["Retry-After"] = str(wait)
            return page
        if security.credentials_match(settings, username, password):
            throttle.succeeded(address)
            response = HTTPFound(self.request.route_url("channelstream.admin"))
            response.set_cookie(
                security.ADMIN_COOKIE,
                security.admin_cookie_value(settings),
                max_age=security.ADMIN_COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                path="/",
            )
            return response
        throttle.failed(address, username)
        # Slow down guessing without holding a thread: this is a greenlet.
        gevent.sleep(0.5)
        return self._sign_in_page(username, "Wrong user name or password.", status=401)

    def _sign_in_page(self, username: str = "", error: str = "", status: int = 200) -> Response:
        alert = f'<p class="error" id="sign-in-error" role="alert">{html.escape(error)}</p>'
        page = SIGN_IN_PAGE.format(
            error=alert if error else "",
            error_describedby=' aria-describedby="sign-in-error"' if error else "",
            # After a wrong password the user name stays: the password is what to retype.
            focus_user="" if error else " autofocus",
            focus_password=" autofocus" if error else "",
            username=html.escape(username),
            action=html.escape(self.request.route_url("channelstream.admin_sign_in")),
            css=html.escape(self.request.static_url("channelstream:static/admin/admin.css")),
        )
        return Response(page, content_type="text/html", status=status)

    @documented(
        "Sign out: drops the cookie",
        method="GET",
        tag="admin",
        responses={"302": {"description": "To /admin/sign_in."}},
    )
    def sign_out(self) -> HTTPFound:
        response = self._to_sign_in()
        response.delete_cookie(security.ADMIN_COOKIE, path="/")
        return response

    def admin_page(self) -> Response:
        page = runtime_of(self.request).admin_page
        if not page:
            page = "<!doctype html><title>channelstream admin</title><p>See admin.json</p>"
        response = Response(fill_page(self.request, page), content_type="text/html")
        response.cache_control.no_store = True
        return response

    @documented("Totals, channels, users, uptime, version", answer=responses.AdminSummarySchema)
    def admin_json(self) -> Response:
        summary = presenters.admin_summary(self.state)
        sender = runtime_of(self.request).webhooks
        summary["webhook"] = presenters.webhook_summary(
            self.state, sending=bool(sender and sender.holding)
        )
        return json_response(summary, 200)
