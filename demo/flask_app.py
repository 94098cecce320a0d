"""The demo chat backend as a Flask application, served by waitress.

Run it (with channelstream listening on CHANNELSTREAM_URL)::

    CHANNELSTREAM_URL=http://127.0.0.1:8000 CHANNELSTREAM_SECRET=secret \
        python -m demo.flask_app --listen 127.0.0.1:5000
"""

from __future__ import annotations

import argparse

from flask import Flask, Response, jsonify, request

from demo.chat_backend import STATIC_DIR, ChatBackend, DemoSettings, Reply


def make_app(settings: DemoSettings) -> Flask:
    backend = ChatBackend(settings)
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/demo-static")

    def respond(reply: Reply) -> tuple[Response, int]:
        status, body = reply
        return jsonify(body), status

    def body() -> object:
        return request.get_json(force=True, silent=True)

    @app.get("/")
    def page() -> Response:
        return Response(backend.page(), mimetype="text/html")

    @app.post("/connect")
    def connect() -> tuple[Response, int]:
        return respond(backend.connect(body()))

    @app.post("/subscribe")
    def subscribe() -> tuple[Response, int]:
        return respond(backend.subscribe(body()))

    @app.post("/unsubscribe")
    def unsubscribe() -> tuple[Response, int]:
        return respond(backend.subscribe(body(), unsubscribe=True))

    @app.post("/message")
    def message() -> tuple[Response, int]:
        return respond(backend.message(body()))

    @app.patch("/message")
    def message_edit() -> tuple[Response, int]:
        return respond(backend.edit(body()))

    @app.delete("/message")
    def message_delete() -> tuple[Response, int]:
        return respond(backend.delete(body()))

    @app.post("/user_state")
    def user_state() -> tuple[Response, int]:
        return respond(backend.user_state(body()))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:5000", help="host:port to serve on")
    args = parser.parse_args()

    import waitress

    waitress.serve(make_app(DemoSettings.from_env("Flask")), listen=args.listen, threads=8)


if __name__ == "__main__":
    main()
