"""The OpenAPI document at ``/openapi.json``: quart-schema over our routes, with what it leaves out.

quart-schema builds the document from the routes and the models that
:func:`describe` attaches to each handler (:mod:`web.schemas`); it validates
nothing here (see :mod:`web.schemas` for why). :class:`ChatOpenAPI` adds what
it cannot derive: one shared ``ErrorBody`` component behind every error
answer, a description per error status, ``Retry-After`` on 429 and 503, answers that
are not JSON (the page, ``/metrics``, the 101 of ``/ws``) and answers without
a body (204). Every operation needs a bearer token unless it is marked
``public``, so a new endpoint is documented as protected until someone says
otherwise.

The document is public, like the contract it describes. The docs UIs that
quart-schema can serve are off: they load their scripts from a CDN and run an
inline one, which :mod:`web.browser_policy`'s CSP refuses, rightly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel
from quart_schema import QuartSchema, document_querystring, document_request, document_response
from quart_schema.extension import security_scheme
from quart_schema.openapi import APIKeySecurityScheme, HttpSecurityScheme, Info, OpenAPIProvider
from quart_trio import QuartTrio
from werkzeug.routing.rules import Rule

from web.schemas import ErrorBody

F = TypeVar("F", bound=Callable[..., Any])

PATH = "/openapi.json"
BEARER = "bearer"
WS_TOKEN = "ws_token"
"""The ``?token=`` a browser uses on ``/ws``, since it cannot set ``Authorization`` there."""
REFRESH = "refresh_cookie"
"""The browser login's refresh cookie (:mod:`web.refresh_cookie`), which only its exchange reads."""

ERROR_REF = "#/components/schemas/ErrorBody"

_ERRORS = {
    400: "`bad_request`: the body, a field, a query parameter or a header is invalid; the message says which.",
    401: (
        "`unauthorized`: the bearer token is missing, malformed, forged, expired or logged out "
        "(log in again); at login, `invalid_credentials` for an unknown username or a wrong password alike."
    ),
    403: (
        "`forbidden`: understood and refused; the message says why. At login, `deactivated`: the password "
        "is right but an operator deactivated the account."
    ),
    404: "`room_not_found` or `user_not_found` for an id that names nothing; `not_found` for a path that matches no endpoint.",
    409: (
        "`username_taken`: choose another username. `room_name_taken`: a room has this name already, "
        "compared after NFKC and case folding, trimmed; join it or choose another name. `block_limit`: "
        "the block list is full (`limits.blocks_per_user`); unblock someone first."
    ),
    413: "`bad_request`: the body is larger than this endpoint takes, refused before it is parsed.",
    426: "`bad_request`: a plain HTTP request; `/ws` answers only a WebSocket handshake.",
    429: (
        "`rate_limited`: past a throttle or a quota. `Retry-After` gives the seconds to wait; it is absent "
        "when waiting frees nothing (the room quota)."
    ),
    503: (
        "`internal`: a part of the server is busy or shutting down; try again. `unavailable` (cluster mode, "
        "where attempts are counted: login, registration, password change, room creation): the cluster's "
        "Redis cannot be reached, so the attempt cannot be counted and is refused; `Retry-After` gives the "
        "seconds to wait."
    ),
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until a new attempt can succeed.",
        "required": False,
        "schema": {"type": "integer", "minimum": 1},
    }
}

_EXTRA_ATTRIBUTE = "_chat_openapi_extra"

PAGE = {"responses": {"200": {"description": "The web client.", "content": {"text/html": {}}}}}
METRICS = {
    "responses": {
        "200": {
            "description": "Prometheus text format 0.0.4, or OpenMetrics when `Accept` asks for it.",
            "content": {"text/plain": {}, "application/openmetrics-text": {}},
        }
    }
}
WS_HANDSHAKE = {
    "security": [{BEARER: []}, {WS_TOKEN: []}],
    "parameters": [
        {"name": name, "in": "header", "required": required, "description": text, "schema": schema}
        for name, required, text, schema in (
            ("Upgrade", True, "`websocket`, in any case.", {"type": "string"}),
            ("Connection", True, "Holds the token `Upgrade`.", {"type": "string"}),
            ("Sec-WebSocket-Version", True, "The only version there is.", {"const": "13"}),
            (
                "Sec-WebSocket-Key",
                True,
                "16 random bytes in base64 (RFC 6455 4.1).",
                {"type": "string", "pattern": "^[A-Za-z0-9+/]{22}==$"},
            ),
            (
                "Origin",
                False,
                "Sent by browsers: it must be one of the server's own origins.",
                {"type": "string"},
            ),
        )
    ],
    "responses": {
        "101": {"description": "The WebSocket is open; the chat protocol's frames follow."},
        "426": {"headers": {"Upgrade": {"required": True, "schema": {"const": "websocket"}}}},
    },
}
"""What OpenAPI can say of the ``/ws`` handshake: its headers, and a 101 no HTTP client goes past."""

_SET_COOKIE = {
    "Set-Cookie": {
        "description": (
            "The refresh cookie `chat_refresh`: HttpOnly, SameSite=Strict, Path=/api/v1/session, Max-Age "
            "what is left of the login (Secure over https). Absent from an exchange answered within the "
            "grace of a secret just replaced."
        ),
        "required": False,
        "schema": {"type": "string"},
    }
}
REFRESH_COOKIE_SET = {"responses": {"200": {"headers": _SET_COOKIE}}}
"""A login answer that starts (or rotates) a browser login sets its refresh cookie."""
REFRESH_COOKIE_CLEARED = {
    "responses": {
        "204": {
            "headers": {
                "Set-Cookie": {
                    "description": "Clears the refresh cookie (`chat_refresh`, Max-Age=0).",
                    "required": False,
                    "schema": {"type": "string"},
                }
            }
        }
    }
}
SESSION_REFRESH = {
    "security": [{REFRESH: []}],
    "parameters": [
        {
            "name": "X-Requested-With",
            "in": "header",
            "required": True,
            "description": "Any value: a page of another site cannot send it (403 without it).",
            "schema": {"type": "string", "minLength": 1},
        }
    ],
}
"""``POST /api/v1/session/refresh``: authenticated by the refresh cookie alone, with the CSRF header."""


def install(app: QuartTrio) -> None:
    """Serve ``/openapi.json`` from ``app``, documenting every route it has now and later."""
    QuartSchema(
        app,
        openapi_path=PATH,
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(
            title="trio-chat-server",
            version="1",
            description=(
                "Accounts, rooms, presence and history over HTTP; chat over the WebSocket at `/ws`. "
                'Every error answer carries `{"error": {"code", "message"}}`.'
            ),
        ),
        security_schemes={
            BEARER: HttpSecurityScheme(scheme="bearer", bearer_format="JWT"),
            WS_TOKEN: APIKeySecurityScheme(name="token", in_="query"),
            REFRESH: APIKeySecurityScheme(name="chat_refresh", in_="cookie"),
        },
        security=[{BEARER: []}],
        openapi_provider_class=ChatOpenAPI,
    )


def describe(
    ok: type[BaseModel] | None = None,
    status: int = 200,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    errors: Iterable[int] = (),
    public: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Callable[[F], F]:
    """Document a handler: its success answer (``ok``, or none for a 204), body, query and errors.

    ``extra`` is merged into the operation object as it stands, for what
    models cannot say (parameters of ``/ws``, answers that are not JSON).
    """

    def decorate(func: F) -> F:
        if ok is not None:
            func = document_response(ok, status)(func)
        elif status == HTTPStatus.NO_CONTENT:
            _merge_extra(func, {"responses": {"204": {"description": "Done; no body."}}})
        for error in errors:
            func = document_response(ErrorBody, error)(func)
        if body is not None:
            func = document_request(body)(func)
        if query is not None:
            func = document_querystring(query)(func)
        if public:
            func = security_scheme([])(func)
        if extra is not None:
            _merge_extra(func, extra)
        return func

    return decorate


def _merge_extra(func: Callable[..., Any], extra: Mapping[str, Any]) -> None:
    merged = getattr(func, _EXTRA_ATTRIBUTE, {})
    _deep_merge(merged, copy.deepcopy(dict(extra)))
    setattr(func, _EXTRA_ATTRIBUTE, merged)


def _deep_merge(into: dict[str, Any], more: Mapping[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


class ChatOpenAPI(OpenAPIProvider):
    """quart-schema's provider, finishing each operation; the document is built once and kept."""

    _cached: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        if self._cached is None:
            self._cached = super().schema()
        return self._cached

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        extra = getattr(func, _EXTRA_ATTRIBUTE, {})
        for path_item in paths.values():
            for method, operation in list(path_item.items()):
                operation = copy.deepcopy(operation)
                if _finish_responses(operation["responses"]):
                    components.update(_error_components())
                _deep_merge(operation, extra)
                operation["responses"] = dict(sorted(operation["responses"].items()))
                if not operation["parameters"]:
                    del operation["parameters"]
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = True  # json_body refuses an empty one
                if "description" in operation:
                    operation["description"] = operation["description"].strip()
                    if not operation["description"]:
                        del operation["description"]
                path_item[method] = operation
        return paths, components


def _error_components() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs")
    components[ErrorBody.__name__] = schema
    return components


def _finish_responses(responses: dict[Any, Any]) -> bool:
    """Status codes as OpenAPI writes them, errors by reference, a description each; True if any error."""
    referenced = False
    for status in list(responses):
        response = responses.pop(status)
        code = int(status)
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("title") == ErrorBody.__name__:
            referenced = True
            response = {
                "description": _ERRORS.get(code, HTTPStatus(code).phrase),
                "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
            }
            if code in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE):
                response["headers"] = copy.deepcopy(_RETRY_AFTER)
        if not response.get("description"):
            response["description"] = HTTPStatus(code).phrase
        responses[str(code)] = response
    return referenced
