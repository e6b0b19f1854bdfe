"""The Quart-Trio application: routes only; the actors run under the composition root."""

from __future__ import annotations

from pathlib import Path

from quart import Response, jsonify, send_file
from quart.typing import ResponseReturnValue
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from web.api import api
from web.errors import ApiError, api_error_response, http_exception_response, unexpected_error_response
from web.metrics import metrics_response
from web.services import Services, services
from web.ws import ChatSocketEndpoint

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024


def create_app(svc: Services, *, metrics_here: bool = True) -> QuartTrio:
    """The HTTP app with ``/ws`` in front of it."""
    app = QuartTrio(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["chat"] = svc
    app.register_blueprint(api)
    app.register_error_handler(ApiError, api_error_response)
    app.register_error_handler(HTTPException, http_exception_response)
    app.register_error_handler(Exception, unexpected_error_response)

    @app.get("/healthz")
    async def healthz() -> ResponseReturnValue:
        if services().ready:
            return jsonify({"status": "ok"})
        return jsonify({"status": "unavailable"}), 503

    @app.get("/")
    async def index() -> ResponseReturnValue:
        return await send_file(STATIC / "index.html", mimetype="text/html")

    if metrics_here:

        @app.get("/metrics")
        async def metrics() -> Response:
            return metrics_response(services())

    app.asgi_app = ChatSocketEndpoint(app.asgi_app, svc)  # type: ignore[method-assign, assignment]
    return app


def create_metrics_app(svc: Services) -> QuartTrio:
    """A second app holding only /metrics, for ``metrics_port``."""
    app = QuartTrio(__name__)
    app.extensions["chat"] = svc

    @app.get("/metrics")
    async def metrics() -> Response:
        return metrics_response(svc)

    return app
