"""Schemathesis hooks for ``tests/test_openapi.py``: a token that survives logout, and the error shape.

Loaded by the ``st`` process through ``SCHEMATHESIS_HOOKS``; the test passes
the server and an account in ``CHAT_OPENAPI_*`` variables. By hand, against
a server of your own (rate limits off), with an account registered on it:

    CHAT_OPENAPI_BASE=http://127.0.0.1:8000 CHAT_OPENAPI_USERNAME=... CHAT_OPENAPI_PASSWORD=... \\
    SCHEMATHESIS_HOOKS=tests.schemathesis_hooks \\
    .venv/bin/st --config-file tests/schemathesis.toml run http://127.0.0.1:8000/openapi.json
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis


@schemathesis.auth()
class LoginToken:
    """A bearer token: ``CHAT_OPENAPI_TOKEN`` first, then one from ``POST /api/v1/login`` after any 401.

    Schemathesis calls logout, logout everywhere and the password change with
    this token too, and each of them ends it; the 401 that follows makes
    schemathesis drop the cached token and ask for another. The first token
    comes from the test, so that a run with the login throttle on does not
    begin by logging in from an address its own fuzzing has throttled.
    """

    def __init__(self) -> None:
        self._given = os.environ.get("CHAT_OPENAPI_TOKEN")

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        if self._given:
            token, self._given = self._given, None
            return token
        answer = requests.post(
            os.environ["CHAT_OPENAPI_BASE"] + "/api/v1/login",
            json={
                "username": os.environ["CHAT_OPENAPI_USERNAME"],
                "password": os.environ["CHAT_OPENAPI_PASSWORD"],
            },
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response
) -> None:
    """One line per answer, ``<method> <path template> <status>``, in ``CHAT_OPENAPI_SEEN`` when it is set."""
    seen = os.environ.get("CHAT_OPENAPI_SEEN")
    if seen:
        with open(seen, "a", encoding="utf-8") as out:
            out.write(f"{case.method} {case.path} {response.status_code}\n")


@schemathesis.check
def error_answers_carry_the_contract_error_body(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 4xx and 5xx is ``{"error": {"code": str, "message": str}}`` and nothing else.

    Checked apart from the document, so that a document that wrongly allowed
    another shape could not hide one. ``/healthz`` is the exception the
    contract makes: its 503 is ``{"status": "unavailable"}``.
    """
    if response.status_code < 400 or case.path == "/healthz":
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body: Any = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, body
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"], body
    return True
