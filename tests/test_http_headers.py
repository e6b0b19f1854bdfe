"""What every HTTP answer tells a browser: the security headers, and no redirect built from ``Host``."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from tests.conftest import Api, Server, start_server, with_config
from web.app import STATIC
from web.config import Config


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Headers are the HTTP layer's, whatever the database: SQLite only."""
    return sqlite_url


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def assert_secured(headers: httpx.Headers, name: str, csp: str = CSP) -> None:
    assert headers.get("content-security-policy") == csp, name
    assert headers.get("x-content-type-options") == "nosniff", name
    assert headers.get("referrer-policy") == "no-referrer", name


async def test_every_kind_of_answer_carries_the_security_headers(api: Api, server: Server) -> None:
    account = await api.account()
    answers = {
        "the page": await api.call("GET", "/"),
        "the script": await api.call("GET", "/static/main.js"),
        "the style sheet": await api.call("GET", "/static/style.css"),
        "an API answer": await api.call("GET", "/api/v1/me", token=account.token),
        "a 400": await api.call("POST", "/api/v1/login", content=b"not json"),
        "a 401": await api.call("GET", "/api/v1/me"),
        "a 404": await api.call("GET", "/no/such/page"),
        "a 405": await api.call("DELETE", "/healthz"),
        "the health check": await api.call("GET", "/healthz"),
        "the metrics": await api.call("GET", "/metrics"),
    }
    for name, answer in answers.items():
        assert_secured(answer.headers, name)
    assert answers["a 400"].status_code == 400 and answers["a 405"].status_code == 405
    assert answers["the script"].status_code == 200  # a 404 carries the headers too: check it is the script
    assert "javascript" in answers["the script"].headers["content-type"]
    with pytest.raises(ConnectionRejected) as refused:
        async with open_websocket_url(server.ws_url):
            pass
    assert refused.value.status_code == 401
    assert_secured(httpx.Headers(refused.value.headers), "a refused WebSocket handshake")


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block in a page: inline scripts, styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("an inline <script>")
        if tag == "style":
            self.found.append("a <style> element")
        self.found += [f"{name}= on <{tag}>" for name in names if name == "style" or name.startswith("on")]
        self.found += [
            f"a javascript: URL on <{tag}>"
            for _, value in attrs
            if (value or "").lower().startswith("javascript:")
        ]


async def test_the_page_is_served_under_a_policy_it_can_run_under(api: Api) -> None:
    page = await api.call("GET", "/")
    assert_secured(page.headers, "the page")
    parser = InlineCode()
    parser.feed(page.text)
    assert parser.found == []
    assert page.text == (STATIC / "index.html").read_text(encoding="utf-8")


async def test_a_public_origin_is_named_for_websockets_in_the_policy(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, public_origin="https://chat.example.org"))
    async with httpx.AsyncClient(base_url=server.http) as http:
        page = await http.get("/")
    assert_secured(
        page.headers,
        "the page",
        CSP.replace("connect-src 'self'", "connect-src 'self' wss://chat.example.org"),
    )
    server.stop.set()


async def test_no_answer_redirects_to_the_host_a_client_wrote(api: Api) -> None:
    """Werkzeug would answer ``//`` in a path with a redirect to ``http://<Host>/...``."""
    for path in ("/api//v1/rooms", "//static//app.js", "/static//app.js"):
        answer = await api.call("GET", path, headers={"Host": "evil.example"})
        assert "location" not in answer.headers, path
        assert "evil.example" not in answer.text, path
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", path
        assert_secured(answer.headers, path)
