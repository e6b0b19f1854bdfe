"""The Quart-Trio application: routes only; the actors run under the composition root.

Both apps send the security headers of :mod:`web.browser_policy` on every
response, and neither ever redirects: Werkzeug builds the ``Location`` of
its slash-merging redirect (``//api`` to ``/api``) from the ``Host`` header,
which any client writes, so merging is off and such a path is a 404.

``/openapi.json`` describes every route (:mod:`web.openapi`). ``GET /ws``
reaches this app only when it is not a WebSocket handshake (the middleware
of :mod:`web.ws` takes those), and is answered 426 with ``Upgrade``.
"""

from __future__ import annotations

from pathlib import Path

from quart import Response, jsonify, request, send_file
from quart.typing import ResponseReturnValue
from quart_schema import document_response
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from web.accounts_api import accounts
from web.api import api
from web.auth import BODY_MAX
from web.blocks_api import blocks
from web.browser_policy import SecurityHeaders
from web.errors import ApiError, api_error_response, http_exception_response, unexpected_error_response
from web.membership_api import membership
from web.metrics import metrics_response
from web.moderation_api import moderation
from web.openapi import METRICS, PAGE, WS_HANDSHAKE, describe, install
from web.reads_api import reads
from web.roles_api import roles
from web.schemas import Health
from web.services import Services, services
from web.session_api import session
from web.ws import PATH as WS_PATH
from web.ws import ChatSocketEndpoint

STATIC = Path(__file__).resolve().parent / "static"


def create_app(svc: Services, *, metrics_here: bool = True) -> QuartTrio:
    """The HTTP app with ``/ws`` in front of it."""
    app = QuartTrio(__name__, static_folder=str(STATIC), static_url_path="/static")
    _no_redirects(app)
    install(app)  # before the JSON settings: quart-schema replaces app.json
    app.config["MAX_CONTENT_LENGTH"] = BODY_MAX
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["chat"] = svc
    app.register_blueprint(accounts)
    app.register_blueprint(api)
    app.register_blueprint(reads)
    app.register_blueprint(session)
    app.register_blueprint(moderation)
    app.register_blueprint(roles)
    app.register_blueprint(blocks)
    app.register_blueprint(membership)
    app.register_error_handler(ApiError, api_error_response)
    app.register_error_handler(HTTPException, http_exception_response)
    app.register_error_handler(Exception, unexpected_error_response)

    @app.get("/healthz")
    @describe(Health, public=True)
    @document_response(Health, 503)
    async def healthz() -> ResponseReturnValue:
        if services().ready and services().serving():
            return jsonify({"status": "ok"})
        return jsonify({"status": "unavailable"}), 503

    @app.get("/")
    @describe(public=True, extra=PAGE)
    async def index() -> ResponseReturnValue:
        return await send_file(STATIC / "index.html", mimetype="text/html")

    if metrics_here:

        @app.get("/metrics")
        @describe(public=True, extra=METRICS)
        async def metrics() -> Response:
            return metrics_response(services(), request.headers.get("Accept"))

    @app.get(WS_PATH)
    @describe(errors=(400, 401, 403, 426, 503), extra=WS_HANDSHAKE)
    async def ws_without_upgrade() -> ResponseReturnValue:
        """Open a chat WebSocket.

        The handshake is answered before any upgrade: 101 and the chat
        protocol, or an error with the JSON error body (the key is checked
        first, then the origin, then the token). A request that is not a
        handshake, which is what this route receives, is 426.
        """
        raise ApiError(
            426,
            "bad_request",
            f"{WS_PATH} takes a WebSocket handshake (Upgrade: websocket over HTTP/1.1), not a plain request",
            {"Upgrade": "websocket"},
        )

    endpoint = ChatSocketEndpoint(app.asgi_app, svc)
    app.asgi_app = SecurityHeaders(endpoint, svc.config.public_origin)  # type: ignore[method-assign, assignment]
    return app


def _no_redirects(app: QuartTrio) -> None:
    """Routing answers 404 where it would redirect to a URL made from ``Host``.

    The other redirect Werkzeug knows, adding the slash a rule ends with,
    cannot happen: no rule but ``/`` ends with one.
    """
    app.url_map.merge_slashes = False


def create_metrics_app(svc: Services) -> QuartTrio:
    """A second app holding only /metrics, for ``metrics_port``."""
    app = QuartTrio(__name__)
    _no_redirects(app)
    app.extensions["chat"] = svc

    @app.get("/metrics")
    async def metrics() -> Response:
        return metrics_response(svc, request.headers.get("Accept"))

    app.asgi_app = SecurityHeaders(app.asgi_app, svc.config.public_origin)  # type: ignore[method-assign, assignment]
    return app
