"""HTTP errors as the contract shapes them: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from quart import Response, jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error_response(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "bad_request",
    429: "rate_limited",
}


def http_exception_response(error: HTTPException) -> Response:
    """The contract's body in place of Werkzeug's HTML, keeping the headers the status needs.

    A 405 must say which methods the path takes (``Allow``, RFC 9110 15.5.6).
    """
    status = error.code or 500
    code = _HTTP_CODES.get(status, "internal")
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    return error_response(status, code, error.description or code, headers)


def unexpected_error_response(error: Exception) -> Response:
    return error_response(500, "internal", "the server failed to handle this request")
