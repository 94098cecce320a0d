"""The admin side in-process: sign-in, the pages, admin.json, the panel's actions and the
API explorer, all behind the one guard (views/guards.py)."""

from __future__ import annotations

from tests.support.webapp import App


def sign_in(app: App) -> None:
    answer = app.post("/admin/sign_in", {"username": "admin", "password": "admin-pw"}, status=302)
    assert answer.location.endswith("/admin")


def test_pages_redirect_until_signed_in(app: App) -> None:
    for path in ("/admin", "/admin/anything", "/admin/admin.json", "/api-explorer"):
        assert app.get(path, status=302).location.endswith("/admin/sign_in"), path
    assert "<form" in app.get("/admin/sign_in").text
    wrong = app.post("/admin/sign_in", {"username": "admin", "password": "no"}, status=401)
    assert "Wrong user name or password" in wrong.text
    sign_in(app)
    page = app.get("/admin")
    assert page.cache_control.no_store and "{{" not in page.text
    summary = app.get("/admin/admin.json").json
    assert summary["total_connections"] == 0 and summary["version"]
    app.get("/admin/sign_out", status=302)
    app.get("/admin", status=302)


def test_admin_json_also_takes_the_api_signature(app: App) -> None:
    assert "uptime" in app.get("/admin/admin.json", headers=app.signed()).json


def test_panel_actions_need_the_admin_and_this_servers_origin(app: App) -> None:
    message = [{"channel": "x", "user": "admin"}]
    answer = app.post_json("/admin/api/message", message, status=403)
    assert answer.json == {"request": "Sign in as the admin first."}
    sign_in(app)
    cross = app.post_json(
        "/admin/api/message", message, headers={"Origin": "https://evil.example"}, status=403
    )
    assert cross.json == {"request": "Cross-origin admin actions are refused."}
    same = app.post_json("/admin/api/message", message, headers={"Origin": "http://localhost"})
    assert same.json[0]["channel"] == "x"
    assert app.post_json(
        "/admin/api/channel_config", {"channel": "nope", "config": {}}, status=404
    ).json == {"channel": ["No such channel."]}
    app.get("/admin/api/message", status=405)


def test_the_openapi_document_is_for_admins(app: App) -> None:
    assert app.get("/openapi.json", status=403).json == {"request": "Sign in as the admin first."}
    document = app.get("/openapi.json", headers=app.signed()).json
    assert document["servers"] == [{"url": "http://localhost"}]
    assert "/connect" in document["paths"] and "/admin/api/message" in document["paths"]
    sign_in(app)
    assert "swagger-ui" in app.get("/api-explorer").text
