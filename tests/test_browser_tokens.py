"""End to end: a page holds only a short-lived token, and one running out does not end the chat.

The server gives a page (a login sent with ``X-Requested-With``) a token of
``auth.page_token_ttl`` seconds; this module's server makes that 10 s. The
page renews its token before it runs out; when it could not (a sleeping
laptop: here the renewal requests are held back), the server closes the
socket with 4401, and the page takes a new token from the browser's login,
its HttpOnly cookie, and carries on instead of showing the login form.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

PAGE_TOKEN_SECONDS = 10


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"CHAT_PAGE_TOKEN_TTL": str(PAGE_TOKEN_SECONDS)}


def claims_of(token: str) -> Any:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def page_token(person: Person) -> str:
    token = person.page.evaluate('sessionStorage.getItem("chat.token")')
    assert isinstance(token, str)
    return token


def test_a_token_that_runs_out_is_replaced_from_the_login_and_the_chat_goes_on(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    ines = people("ines")
    ines.register()
    first = page_token(ines)
    claims = claims_of(first)
    assert claims["exp"] - claims["iat"] == PAGE_TOKEN_SECONDS and claims["page"] is True
    ines.join("lobby")
    # The renewal with the token itself fails as on a sleeping machine: the server
    # ends the socket with 4401 when the token runs out, and only the cookie helps.
    ines.page.route("**/api/v1/refresh", lambda route: route.abort())
    deadline = time.monotonic() + PAGE_TOKEN_SECONDS + 20
    while page_token(ines) == first:  # the page's CSP forbids wait_for_function's eval: poll instead
        assert time.monotonic() < deadline, "the page never got a new token"
        ines.page.wait_for_timeout(250)
    ines.expect(ines.by_id("connection-status")).to_have_attribute("data-state", "online")
    ines.expect(ines.by_id("chat-view")).to_be_visible()
    ines.send("still here after the token ran out")
    ines.expect_message("still here after the token ran out")
    assert claims_of(page_token(ines))["sub"] == claims["sub"]
    ines.assert_nothing_ran()
