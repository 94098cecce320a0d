"""channelstream as a WSGI application in this process, driven by WebTest."""

from __future__ import annotations

from typing import Any

from itsdangerous import TimestampSigner
from webtest import TestApp

from channelstream.app import make_app
from channelstream.runtime import Runtime, runtime_of

SECRET = "views-secret"
SETTINGS = {
    "channelstream.environment": "development",
    "channelstream.secret": SECRET,
    "channelstream.admin_secret": "admin-pw",
    "channelstream.cookie_secret": "cookie-key",
    "channelstream.longpoll_timeout": "0.2",
}


class App(TestApp):
    """WebTest's app with the signature at hand and the runtime to look inside."""

    runtime: Runtime

    def signed(self) -> dict[str, str]:
        return {"x-channelstream-secret": TimestampSigner(SECRET).sign("channelstream").decode()}

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        call = getattr(self, f"{method.lower()}_json")
        headers = {**self.signed(), **kwargs.pop("headers", {})}
        return call(path, body, headers=headers, **kwargs)


def make(**settings: str) -> App:
    wsgi = make_app({**SETTINGS, **settings})
    app = App(wsgi, extra_environ={"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"})
    app.runtime = runtime_of(wsgi.registry)
    return app
