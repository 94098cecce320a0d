"""The demo chat backend as a Pyramid application, served by waitress.

Run it (with channelstream listening on CHANNELSTREAM_URL)::

    CHANNELSTREAM_URL=http://127.0.0.1:8000 CHANNELSTREAM_SECRET=secret \
        python -m demo.pyramid_app --listen 127.0.0.1:6543
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router

from demo.chat_backend import STATIC_DIR, ChatBackend, DemoSettings, Handler, Reply


def _json_body(request: Request) -> Any:
    try:
        return request.json_body
    except ValueError:
        return None


def _respond(reply: Reply) -> Response:
    status, body = reply
    response = Response(status=status, content_type="application/json", charset="utf-8")
    response.json_body = body
    return response


def make_app(settings: DemoSettings) -> Router:
    backend = ChatBackend(settings)

    def endpoint(handler: Handler) -> Callable[[Request], Response]:
        def view(request: Request) -> Response:
            return _respond(handler(_json_body(request)))

        return view

    def page(request: Request) -> Response:
        return Response(backend.page(), content_type="text/html", charset="utf-8")

    with Configurator() as config:
        config.add_route("page", "/")
        config.add_view(page, route_name="page", request_method="GET")
        added: set[str] = set()
        for path, method, handler in backend.routes():
            route = path.strip("/")
            if route not in added:
                config.add_route(route, path)
                added.add(route)
            config.add_view(endpoint(handler), route_name=route, request_method=method)
        config.add_static_view("demo-static", str(STATIC_DIR))
        return config.make_wsgi_app()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:6543", help="host:port to serve on")
    args = parser.parse_args()

    import waitress

    waitress.serve(make_app(DemoSettings.from_env("Pyramid")), listen=args.listen, threads=8)


if __name__ == "__main__":
    main()
