"""The demo chat backend as a Flask application, served by waitress.

Run it (with channelstream listening on CHANNELSTREAM_URL)::

    CHANNELSTREAM_URL=http://127.0.0.1:8000 CHANNELSTREAM_SECRET=secret \
        python -m demo.flask_app --listen 127.0.0.1:5000
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from flask import Flask, Response, jsonify, request

from demo.chat_backend import STATIC_DIR, ChatBackend, DemoSettings, Handler


def make_app(settings: DemoSettings) -> Flask:
    backend = ChatBackend(settings)
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/demo-static")

    def endpoint(handler: Handler) -> Callable[[], tuple[Response, int]]:
        def view() -> tuple[Response, int]:
            status, body = handler(request.get_json(force=True, silent=True))
            return jsonify(body), status

        return view

    @app.get("/")
    def page() -> Response:
        return Response(backend.page(), mimetype="text/html")

    for path, method, handler in backend.routes():
        app.add_url_rule(
            path, endpoint=f"{method} {path}", view_func=endpoint(handler), methods=[method]
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:5000", help="host:port to serve on")
    args = parser.parse_args()

    import waitress

    waitress.serve(make_app(DemoSettings.from_env("Flask")), listen=args.listen, threads=8)


if __name__ == "__main__":
    main()
