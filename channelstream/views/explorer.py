"""The API explorer: the OpenAPI 3 document of every endpoint at /openapi.json (derived by
``views.openapi`` from the routes and the marshmallow schemas), and Swagger UI (from the
swagger-ui-bundle package) at /api-explorer. Admins only, like the rest of /admin."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING, Any

from pyramid.response import Response

from channelstream.errors import RequestError
from channelstream.runtime import runtime_of
from channelstream.views.errors import json_response
from channelstream.views.guards import ADMIN, ADMIN_PAGE, OPTION
from channelstream.views.methods import refuse_other_methods
from channelstream.views.openapi import build_openapi, documented

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

log = logging.getLogger(__name__)

SWAGGER_STATIC = "api-explorer/swagger-ui"


def openapi_document(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    document = runtime.openapi
    if document is None:
        try:
            document = runtime.openapi = build_openapi(request.registry, runtime.route_prefix)
        except ImportError:
            raise RequestError.with_status(
                503, {"request": "The OpenAPI document needs apispec: pip install apispec"}
            ) from None
    # The document's own URL minus its name: the application's URL plus any route prefix
    # the add-on is mounted under, so Swagger UI's "Try it out" calls the real routes.
    base = request.route_url("channelstream.openapi").rpartition("/")[0]
    return {**document, "servers": [{"url": base or "/"}]}


# -- views ------------------------------------------------------------------------------

EXPLORER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>channelstream API explorer</title>
<link rel="stylesheet" href="{swagger}swagger-ui.css">
<link rel="stylesheet" href="{admin_static}admin.css">
</head>
<body class="explorer" data-openapi-url="{openapi}">
<header class="topbar"><div class="brand"><a href="{admin}">channelstream admin</a>
<span class="sep">/</span> API explorer</div>
<nav aria-label="Account"><a href="{admin}">Dashboard</a>
<a href="{sign_out}">Sign out</a></nav></header>
<main id="swagger-ui" aria-label="API explorer"></main>
<script src="{swagger}swagger-ui-bundle.js"></script>
<script src="{admin_static}explorer.js"></script>
</body></html>
"""

MISSING_SWAGGER = (
    "<!doctype html><title>API explorer</title><p>The API explorer needs the "
    "swagger-ui-bundle package: <code>pip install swagger-ui-bundle</code>. "
    'The document itself is at <a href="{openapi}">{openapi}</a>.</p>'
)


@documented(
    "This document",
    answer={"type": "object"},
    answer_description="OpenAPI 3.",
)
def openapi_view(request: Request) -> Response:
    return json_response(openapi_document(request), 200)


@documented(
    "Swagger UI on this document",
    answer={"type": "string"},
    answer_description="HTML.",
    answer_media="text/html",
)
def explorer_view(request: Request) -> Response:
    openapi = html.escape(request.route_url("channelstream.openapi"))
    swagger_ui = runtime_of(request).swagger_ui
    if not swagger_ui:
        return Response(MISSING_SWAGGER.format(openapi=openapi), status=503)
    page = EXPLORER_PAGE.format(
        swagger=html.escape(request.static_url(swagger_ui)),
        admin_static=html.escape(request.static_url("channelstream:static/admin/")),
        openapi=openapi,
        admin=html.escape(request.route_url("channelstream.admin")),
        sign_out=html.escape(request.route_url("channelstream.admin_sign_out")),
    )
    return Response(page, content_type="text/html")


def includeme(config: Configurator) -> None:
    config.add_route("channelstream.openapi", "/openapi.json")
    config.add_view(
        openapi_view,
        route_name="channelstream.openapi",
        request_method="GET",
        **{OPTION: ADMIN},
    )
    refuse_other_methods(config, "channelstream.openapi", ("GET",))
    config.add_route("channelstream.api_explorer", "/api-explorer")
    config.add_view(
        explorer_view,
        route_name="channelstream.api_explorer",
        request_method="GET",
        **{OPTION: ADMIN_PAGE},
    )
    refuse_other_methods(config, "channelstream.api_explorer", ("GET",))
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.warning("swagger-ui-bundle is not installed: /api-explorer cannot show Swagger UI")
        return
    path = str(swagger_ui_path).rstrip("/") + "/"
    config.add_static_view(SWAGGER_STATIC, path, cache_max_age=3600)
    runtime_of(config.registry).swagger_ui = path
