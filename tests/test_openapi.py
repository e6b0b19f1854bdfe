"""The published OpenAPI document against the running server: schemathesis, and what it cannot reach.

Schemathesis runs as its own process (``st``, settings in
``tests/schemathesis.toml``, hooks in ``tests/schemathesis_hooks.py``)
against a real server on port 0 in this process: its requests go over real
sockets, and neither event loop is shared. It derives requests from
``/openapi.json`` (examples, boundary values, fuzzing, sequences that follow
the links between operations) and checks every answer: no 5xx, a status the
document lists, a body and headers matching it, the contract's error body on
every error, 405 with ``Allow`` for a method the path does not take, 401 for
a protected operation called without a valid token. The run is
deterministic, so a failure repeats.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from tests.conftest import Account, Api, Server, start_server, with_config
from web.config import Config
from web.schemas import ErrorBody

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Path(__file__).with_name("schemathesis.toml")
PUBLIC = {
    ("post", "/api/v1/register"),
    ("post", "/api/v1/login"),
    ("get", "/healthz"),
    ("get", "/"),
    ("get", "/metrics"),
}
THROTTLED = {"POST /api/v1/register", "POST /api/v1/login", "POST /api/v1/rooms", "POST /api/v1/password"}
HANDSHAKE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


async def schemathesis(
    server: Server, account: Account, workdir: Path, *options: str
) -> tuple[str, Counter[str]]:
    """Run ``st`` against ``server``; its output, and how often each ``<method> <path> <status>`` was seen."""
    seen = workdir / "seen.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "CHAT_OPENAPI_BASE": server.http,
        "CHAT_OPENAPI_USERNAME": account.username,
        "CHAT_OPENAPI_PASSWORD": account.password,
        "CHAT_OPENAPI_TOKEN": account.token,
        "CHAT_OPENAPI_SEEN": str(seen),
    }
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(SETTINGS), "run", "--no-color"]
    result = await trio.run_process(
        [*command, *options, f"{server.http}/openapi.json"],
        env=env,
        cwd=workdir,
        capture_stdout=True,
        stderr=subprocess.STDOUT,
        check=False,
    )
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 0, output
    return output, Counter(seen.read_text().splitlines())


def statuses(seen: Counter[str], operation: str) -> set[int]:
    return {int(line.rsplit(" ", 1)[1]) for line in seen if line.rsplit(" ", 1)[0] == operation}


async def document(server: Server) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http) as http:
        answer = await http.get("/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def operations(doc: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


async def test_every_answer_schemathesis_provokes_matches_the_published_document(
    nursery: trio.Nursery, config: Config, tmp_path: Path
) -> None:
    server = await start_server(nursery, with_config(config, rate_limit_enabled=False))
    api = Api(server)
    account = await api.account(password="fuzzing passphrase")
    with trio.fail_after(300):
        _, seen = await schemathesis(server, account, tmp_path)
    await api.http.aclose()
    server.stop.set()
    # Schemathesis passes a run whose every request was refused: make sure it got through.
    expected = {
        "POST /api/v1/register": 201,
        "POST /api/v1/login": 200,
        "GET /api/v1/me": 200,
        "POST /api/v1/logout": 204,
        "POST /api/v1/logout-all": 204,
        "POST /api/v1/rooms": 201,
        "GET /api/v1/rooms": 200,
        "GET /api/v1/rooms/{room_id}": 200,
        "GET /api/v1/rooms/{room_id}/online": 200,
        "GET /api/v1/rooms/{room_id}/messages": 200,
        "GET /api/v1/online": 200,
        "GET /api/v1/conversations": 200,
        "GET /api/v1/unread": 200,
        "GET /api/v1/me/rooms": 200,
        "GET /api/v1/blocks": 200,
        "GET /healthz": 200,
        "GET /": 200,
        "GET /metrics": 200,
    }
    missed = {op: sorted(statuses(seen, op)) for op, ok in expected.items() if ok not in statuses(seen, op)}
    assert not missed, missed
    assert not any(line.endswith(" 429") for line in seen)


async def test_with_the_throttles_on_every_429_is_a_documented_answer(
    nursery: trio.Nursery, config: Config, tmp_path: Path
) -> None:
    # Lower limits than the defaults, so that a short run meets every throttle and the room quota.
    server = await start_server(nursery, with_config(config, login_failures_per_address=10, rooms_per_user=3))
    api = Api(server)
    account = await api.account(password="fuzzing passphrase")
    with trio.fail_after(240):
        _, seen = await schemathesis(
            server,
            account,
            tmp_path,
            "--max-examples",
            "15",
            "--phases",
            "coverage,fuzzing",
            *[arg for op in sorted(THROTTLED) for arg in ("--include-path", op.split(" ", 1)[1])],
        )
    await api.http.aclose()
    server.stop.set()
    throttled = {op for op in THROTTLED if 429 in statuses(seen, op)}
    assert throttled == THROTTLED, seen


async def test_the_document_is_public_and_every_error_in_it_is_the_contract_error_body(
    server: Server,
) -> None:
    doc = await document(server)
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "type": "http",
    }
    for method, path, operation in operations(doc):
        protected = (method, path) not in PUBLIC
        assert (operation.get("security", doc["security"]) != []) == protected, (method, path)
        for status, answer in operation["responses"].items():
            if int(status) >= 400 and path != "/healthz":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True
            assert {"400", "413"} <= set(operation["responses"]), (method, path)
        if protected:
            assert "401" in operation["responses"], (method, path)
    assert doc["components"]["schemas"]["ErrorBody"]["additionalProperties"] is False


async def test_the_document_lists_every_route_the_app_serves(server: Server) -> None:
    doc = await document(server)
    documented = {(method, path) for method, path, _ in operations(doc)}
    assert documented >= PUBLIC | {
        ("post", "/api/v1/rooms"),
        ("get", "/api/v1/rooms/{room_id}/messages"),
        ("get", "/api/v1/private/{user_id}/messages"),
        ("get", "/ws"),
    }
    assert ("get", "/openapi.json") not in documented  # the document does not describe itself


async def test_no_docs_page_loads_scripts_from_elsewhere(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        for path in ("/docs", "/redocs", "/scalar"):
            assert (await http.get(path)).status_code == 404, path
        answer = await http.get("/openapi.json")
    assert "script-src 'self'" in answer.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({**HANDSHAKE, "Sec-WebSocket-Key": "short"}, 400),
        ({**HANDSHAKE, "Sec-WebSocket-Key": KEY}, 401),
        ({**HANDSHAKE, "Sec-WebSocket-Key": KEY, "Origin": "https://elsewhere.example"}, 403),
        ({}, 426),
    ],
)
async def test_the_ws_handshake_refusals_are_the_documented_ones(
    server: Server, headers: dict[str, str], status: int
) -> None:
    """Schemathesis leaves ``/ws`` out (it cannot carry on after a 101), so its answers are checked here."""
    doc = await document(server)
    documented = doc["paths"]["/ws"]["get"]["responses"]
    async with httpx.AsyncClient(base_url=server.http) as http:
        answer = await http.get("/ws", headers=headers)
    assert answer.status_code == status
    assert documented[str(status)]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    ErrorBody.model_validate_json(answer.content, strict=True)
    for name in documented[str(status)].get("headers", {}):
        assert name in answer.headers
    assert {"101", "503"} <= set(documented)


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a", "name": "b"}',
        b'{"name": NaN}',
        b'{"name": "\\ud800"}',
        b'{"name": ' + b"[" * 40 + b"]" * 40 + b"}",
    ],
    ids=["duplicate keys", "NaN", "lone surrogate", "too deep"],
)
async def test_bodies_are_still_read_by_the_strict_parser_not_the_document(api: Api, body: bytes) -> None:
    account = await api.account()
    answer = await api.call("POST", "/api/v1/rooms", token=account.token, content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    assert answer.json()["error"]["message"].startswith("the body must be a JSON object"), answer.text


# Defects schemathesis found, each pinned by a test of its own.


async def test_a_405_names_the_methods_the_path_takes(api: Api) -> None:
    answer = await api.call("DELETE", "/api/v1/me")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in {m.strip() for m in answer.headers["allow"].split(",")}


async def test_a_plain_get_of_ws_is_426_upgrade_required(api: Api) -> None:
    answer = await api.call("GET", "/ws")
    assert answer.status_code == 426
    assert answer.headers["upgrade"] == "websocket"
    assert answer.json()["error"]["code"] == "bad_request"


async def test_an_answer_given_before_its_body_arrived_does_not_stall_the_connection(server: Server) -> None:
    """The next request on such a connection used to wait forever.

    Now the server either reads the late body and answers the next request
    (when the body came before it finished the first answer) or closes the
    connection right after the answer, and the client opens another.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", server.running.port)
    await stream.send_all(b"POST /api/v1/me HTTP/1.1\r\nHost: chat\r\nContent-Length: 5\r\n\r\n")
    first = b""
    with trio.fail_after(5):
        while b'"method_not_allowed"' not in first:
            first += await stream.receive_some()
        await trio.testing.wait_all_tasks_blocked()  # the server is done with the first request
        after = b""
        try:
            await stream.send_all(b"hello" + b"GET /healthz HTTP/1.1\r\nHost: chat\r\n\r\n")
            while b'{"status":"ok"}' not in after and (chunk := await stream.receive_some()):
                after += chunk
        except trio.BrokenResourceError:
            pass  # closed under our feet: a client reconnects
    assert first.startswith(b"HTTP/1.1 405 ")
    assert after == b"" or after.startswith(b"HTTP/1.1 200 "), after  # closed, or the next answer
    await stream.aclose()
