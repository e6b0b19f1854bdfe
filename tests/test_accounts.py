"""Accounts, tokens and the handshake, as the contract states them."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

import h11
import jwt
import pytest
import trio
from trio_websocket import ConnectionRejected, connect_websocket_url, open_websocket_url

from tests.conftest import JWT_SECRET, Api, Server, start_server, with_config
from web.config import Config


async def test_register_login_me(api: Api) -> None:
    r = await api.call("POST", "/api/v1/register", json={"username": "张三", "password": "long enough"})
    assert r.status_code == 201
    user = r.json()["user"]
    assert user["username"] == "张三" and isinstance(user["user_id"], str)
    r = await api.call("POST", "/api/v1/login", json={"username": "张三", "password": "long enough"})
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "Bearer" and body["user"] == user
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    r = await api.call("GET", "/api/v1/me", token=body["token"])
    assert r.json() == {"user": user}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "", "password": "long enough"},
        {"username": "a" * 33, "password": "long enough"},
        {"username": "has space", "password": "long enough"},
        {"username": "semi;colon", "password": "long enough"},
        {"username": "ok_name", "password": "short"},
        {"username": "ok_name", "password": "p" * 129},
        {"username": 5, "password": "long enough"},
        {"password": "long enough"},
    ],
)
async def test_register_refuses_invalid_fields(api: Api, body: dict[str, object]) -> None:
    r = await api.call("POST", "/api/v1/register", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


async def test_register_refuses_a_body_that_is_not_a_json_object(api: Api) -> None:
    for content in (b"nope", b"[]", b'{"username":"a","username":"b","password":"long enough"}'):
        r = await api.call("POST", "/api/v1/register", content=content)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


async def test_usernames_are_nfc_normalised_and_unique(api: Api) -> None:
    decomposed = "Jose\u0301"
    r = await api.call("POST", "/api/v1/register", json={"username": decomposed, "password": "long enough"})
    assert r.status_code == 201 and r.json()["user"]["username"] == "Jos\u00e9"
    r = await api.call("POST", "/api/v1/register", json={"username": "Jos\u00e9", "password": "long enough"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "username_taken"
    r = await api.call("POST", "/api/v1/register", json={"username": "Jose", "password": "long enough"})
    assert r.status_code == 201, "an accent makes a different name"


async def test_unknown_user_and_wrong_password_get_the_same_answer(api: Api) -> None:
    await api.account("carol", "right password")
    wrong = await api.call("POST", "/api/v1/login", json={"username": "carol", "password": "wrong password"})
    unknown = await api.call(
        "POST", "/api/v1/login", json={"username": "nobody", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def _forge(claims: dict[str, object], header: dict[str, object] | None = None) -> str:
    def b64(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64(header or {'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


async def test_every_bad_token_is_unauthorized(api: Api) -> None:
    account = await api.account()
    now = int(time.time())
    good = {
        "sub": account.user_id,
        "name": account.username,
        "iat": now,
        "exp": now + 600,
        "iss": "chat-server",
        "jti": "forged-token-id",
        "gen": 0,
        "auth": now,
    }
    r = await api.call("GET", "/api/v1/me", token=jwt.encode(good, JWT_SECRET, algorithm="HS256"))
    assert r.status_code == 200  # the baseline: each token below breaks exactly one thing
    tokens = {
        "garbage": "not.a.token",
        "tampered": account.token[:-4] + ("AAAA" if not account.token.endswith("AAAA") else "BBBB"),
        "expired": jwt.encode({**good, "iat": now - 7200, "exp": now - 3600}, JWT_SECRET, algorithm="HS256"),
        "alg none": _forge(good),
        "other secret": jwt.encode(good, "another-secret-" + "y" * 40, algorithm="HS256"),
        "other issuer": jwt.encode({**good, "iss": "elsewhere"}, JWT_SECRET, algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, JWT_SECRET, algorithm="HS256"),
        "unknown user": jwt.encode({**good, "sub": "ghost"}, JWT_SECRET, algorithm="HS256"),
        "no token id": jwt.encode(
            {k: v for k, v in good.items() if k != "jti"}, JWT_SECRET, algorithm="HS256"
        ),
        "no login time": jwt.encode(
            {k: v for k, v in good.items() if k != "auth"}, JWT_SECRET, algorithm="HS256"
        ),
        "an older generation": jwt.encode({**good, "gen": -1}, JWT_SECRET, algorithm="HS256"),
        "a later generation": jwt.encode({**good, "gen": 1}, JWT_SECRET, algorithm="HS256"),
    }
    r = await api.call("GET", "/api/v1/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = await api.call("GET", "/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    for name, token in tokens.items():
        r = await api.call("GET", "/api/v1/me", token=token)
        assert r.status_code == 401, name
        assert r.json()["error"]["code"] == "unauthorized", name


async def test_handshake_without_a_valid_token_is_refused_with_401(
    api: Api, server: Server, nursery: trio.Nursery
) -> None:
    for url in (server.ws_url, f"{server.ws_url}?token=garbage"):
        with pytest.raises(ConnectionRejected) as refused:
            async with open_websocket_url(url):
                pass
        assert refused.value.status_code == 401


async def test_handshake_refusals_carry_the_documented_error_body(
    api: Api, server: Server, nursery: trio.Nursery
) -> None:
    """A refused upgrade is an HTTP answer a client can read: status, JSON error code, no upgrade."""
    account = await api.account()
    refusals = {
        "no token": (server.ws_url, [], 401, "unauthorized"),
        "empty token": (f"{server.ws_url}?token=", [], 401, "unauthorized"),
        "not a bearer header": (
            server.ws_url,
            [(b"Authorization", f"Basic {account.token}".encode())],
            401,
            "unauthorized",
        ),
        "garbage bearer header": (
            server.ws_url,
            [(b"Authorization", b"Bearer \xff\xfe")],
            401,
            "unauthorized",
        ),
        "foreign origin": (
            f"{server.ws_url}?token={account.token}",
            [(b"Origin", b"null")],
            403,
            "forbidden",
        ),
    }
    for name, (url, headers, status, code) in refusals.items():
        with pytest.raises(ConnectionRejected) as refused:
            async with open_websocket_url(url, extra_headers=headers):
                pass
        assert refused.value.status_code == status, name
        assert json.loads(refused.value.body)["error"]["code"] == code, name


async def test_handshake_accepts_the_authorization_header(
    api: Api, server: Server, nursery: trio.Nursery
) -> None:
    account = await api.account()
    ws = await connect_websocket_url(
        nursery, server.ws_url, extra_headers=[(b"Authorization", f"Bearer {account.token}".encode())]
    )
    await ws.send_message('{"type":"ping"}')
    assert json.loads(await ws.get_message()) == {"type": "pong"}


async def test_foreign_browser_origin_is_refused_with_403(
    api: Api, server: Server, nursery: trio.Nursery
) -> None:
    account = await api.account()
    url = f"{server.ws_url}?token={account.token}"
    with pytest.raises(ConnectionRejected) as refused:
        async with open_websocket_url(url, extra_headers=[(b"Origin", b"https://evil.example")]):
            pass
    assert refused.value.status_code == 403
    own = f"http://127.0.0.1:{server.running.port}".encode()
    ws = await connect_websocket_url(nursery, url, extra_headers=[(b"Origin", own)])
    await ws.send_message('{"type":"ping"}')
    assert json.loads(await ws.get_message()) == {"type": "pong"}


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error_code(self) -> object:
        return json.loads(self.body)["error"]["code"]


async def raw_handshake(
    port: int, target: str, headers: list[tuple[str, str]], *, host: str = ""
) -> RawAnswer:
    """A WebSocket handshake written by hand over TCP, so that any header can be wrong; the answer's head and body."""
    client = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target=target,
        headers=[
            ("Host", host or f"127.0.0.1:{port}"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            *headers,
        ],
    )
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(client.send(request) + client.send(h11.EndOfMessage()))
        answer = RawAnswer(0, {}, b"")
        with trio.fail_after(5):
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA:
                    client.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response | h11.InformationalResponse):
                    answer.status = event.status_code
                    answer.headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                    if event.status_code == 101:
                        return answer
                elif isinstance(event, h11.Data):
                    answer.body += event.data
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return answer


NONCE = base64.b64encode(b"0123456789abcdef").decode()


async def test_a_key_that_is_not_16_bytes_of_base64_is_refused_with_400_before_any_upgrade(
    api: Api, server: Server
) -> None:
    token = (await api.account()).token
    target, port = f"/ws?token={token}", server.running.port
    keys = {
        "missing": [],
        "not base64": [("Sec-WebSocket-Key", "not a base64 nonce!!")],
        "15 bytes": [("Sec-WebSocket-Key", base64.b64encode(b"x" * 15).decode())],
        "17 bytes": [("Sec-WebSocket-Key", base64.b64encode(b"x" * 17).decode())],
        "padding left out": [("Sec-WebSocket-Key", NONCE.rstrip("="))],
        "stray bits": [("Sec-WebSocket-Key", NONCE[:21] + "x==")],
        "empty": [("Sec-WebSocket-Key", "")],
    }
    for name, headers in keys.items():
        answer = await raw_handshake(port, target, headers)
        assert answer.status == 400, name
        assert answer.error_code() == "bad_request", name
        assert "upgrade" not in answer.headers and "sec-websocket-accept" not in answer.headers, name
    accepted = await raw_handshake(port, target, [("Sec-WebSocket-Key", NONCE)])
    assert accepted.status == 101


async def test_the_host_header_does_not_make_an_origin_the_servers_own(api: Api, server: Server) -> None:
    """A page on evil.example that also writes ``Host: evil.example`` is still a foreign origin."""
    token = (await api.account()).token
    target, port = f"/ws?token={token}", server.running.port
    key = ("Sec-WebSocket-Key", NONCE)
    forged = await raw_handshake(port, target, [key, ("Origin", "http://evil.example")], host="evil.example")
    assert forged.status == 403 and forged.error_code() == "forbidden"
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"HTTP://LOCALHOST:{port}/"):
        answer = await raw_handshake(port, target, [key, ("Origin", own)], host="evil.example")
        assert answer.status == 101, own
    other_port = await raw_handshake(port, target, [key, ("Origin", f"http://127.0.0.1:{port + 1}")])
    assert other_port.status == 403


async def test_a_public_origin_replaces_the_origins_of_the_socket(
    api: Api, config: Config, nursery: trio.Nursery
) -> None:
    public = await start_server(
        nursery,
        with_config(config, public_origin="https://chat.example.org", allowed_origins=("https://b.example",)),
    )
    token = (await Api(public).account()).token
    target, port = f"/ws?token={token}", public.running.port
    key = ("Sec-WebSocket-Key", NONCE)
    for origin, status in {
        "https://chat.example.org": 101,
        "https://b.example": 101,
        f"http://127.0.0.1:{port}": 403,
        "http://chat.example.org": 403,
    }.items():
        answer = await raw_handshake(port, target, [key, ("Origin", origin)], host="chat.example.org")
        assert answer.status == status, origin
    public.stop.set()


async def test_failed_logins_are_throttled_with_retry_after(api: Api) -> None:
    await api.account("dave", "right password")
    statuses = []
    for _ in range(11):
        r = await api.call("POST", "/api/v1/login", json={"username": "dave", "password": "wrong password"})
        statuses.append(r.status_code)
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    r = await api.call("POST", "/api/v1/login", json={"username": "dave", "password": "right password"})
    assert r.status_code == 429, "the right password does not bypass an active throttle"


async def test_a_token_issued_before_a_restart_still_works(config: Config, nursery: trio.Nursery) -> None:
    first_config = with_config(config, jwt_secret=None)
    with trio.fail_after(20):
        async with trio.open_nursery() as first_run:  # left once serve() has returned: storage is closed
            first = await start_server(first_run, first_config)
            api = Api(first)
            account = await api.account()
            await api.http.aclose()
            first.stop.set()
    secret_file = config.data_dir / "jwt_secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    second = await start_server(nursery, first_config)
    r = await Api(second).call("GET", "/api/v1/me", token=account.token)
    assert r.status_code == 200
    second.stop.set()
