"""Ending sessions: logout, logout everywhere, and a password change revoke tokens and close sockets."""

from __future__ import annotations

import secrets
import time

import trio
from trio_websocket import ConnectionClosed

from storage.database import open_database
from tests.conftest import Account, Api, Connect, Peer, start_server, with_config
from web.config import Config
from web.revocation import Revocations
from web.tokens import Claims


async def login(api: Api, account: Account, password: str | None = None) -> str:
    r = await api.call(
        "POST", "/api/v1/login", json={"username": account.username, "password": password or account.password}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


async def me(api: Api, token: str) -> int:
    return (await api.call("GET", "/api/v1/me", token=token)).status_code


async def closed_with(peer: Peer) -> int:
    with trio.fail_after(5):
        try:
            while True:
                await peer.ws.get_message()
        except ConnectionClosed as closed:
            return int(closed.reason.code)


async def test_logout_refuses_this_token_and_closes_its_sockets_only(api: Api, connect: Connect) -> None:
    account = await api.account()
    other_token = await login(api, account)
    here = await connect(account, join="lobby")
    elsewhere = await connect(Account(account.user_id, account.username, account.password, other_token))
    r = await api.call("POST", "/api/v1/logout", token=account.token)
    assert r.status_code == 204
    assert await closed_with(here) == 4401
    assert await me(api, account.token) == 401
    assert await me(api, other_token) == 200
    assert (await elsewhere.command({"type": "ping"}))["type"] == "pong"


async def test_a_logged_out_token_cannot_open_a_socket(api: Api, connect: Connect) -> None:
    account = await api.account()
    await api.call("POST", "/api/v1/logout", token=account.token)
    r = await api.call(
        "GET",
        "/ws",
        params={"token": account.token},
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


async def test_logout_everywhere_refuses_every_token_and_closes_every_socket(
    api: Api, connect: Connect
) -> None:
    account = await api.account()
    second = await login(api, account)
    peers = [
        await connect(account),
        await connect(Account(account.user_id, account.username, account.password, second)),
    ]
    assert (await api.call("POST", "/api/v1/logout-all", token=second)).status_code == 204
    assert [await closed_with(p) for p in peers] == [4401, 4401]
    assert await me(api, account.token) == 401 and await me(api, second) == 401
    fresh = await login(api, account)
    assert await me(api, fresh) == 200


async def test_a_password_change_ends_every_session_and_answers_with_a_new_token(
    api: Api, connect: Connect
) -> None:
    account = await api.account()
    peer = await connect(account, join="lobby")
    change = {"old_password": account.password, "new_password": "a brand new secret"}
    r = await api.call("POST", "/api/v1/password", token=account.token, json=change)
    assert r.status_code == 200, r.text
    new_token = r.json()["token"]
    assert await closed_with(peer) == 4401
    assert await me(api, account.token) == 401
    assert await me(api, new_token) == 200
    old_login = await api.call(
        "POST", "/api/v1/login", json={"username": account.username, "password": account.password}
    )
    assert old_login.status_code == 401
    assert await me(api, await login(api, account, "a brand new secret")) == 200


async def test_a_password_change_needs_the_current_password(api: Api) -> None:
    account = await api.account()
    wrong = {"old_password": "not the password", "new_password": "a brand new secret"}
    r = await api.call("POST", "/api/v1/password", token=account.token, json=wrong)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    short = {"old_password": account.password, "new_password": "short"}
    r = await api.call("POST", "/api/v1/password", token=account.token, json=short)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    assert await me(api, account.token) == 200  # nothing changed


async def test_guessing_the_old_password_is_throttled_like_a_login(api: Api) -> None:
    account = await api.account()
    statuses = []
    for n in range(11):
        guess = {"old_password": f"guess {n}", "new_password": "a brand new secret"}
        statuses.append(
            (await api.call("POST", "/api/v1/password", token=account.token, json=guess)).status_code
        )
    assert statuses == [403] * 10 + [429]


async def test_a_logout_outlives_a_restart(config: Config, nursery: trio.Nursery) -> None:
    async with trio.open_nursery() as first:
        server = await start_server(first, config)
        api = Api(server)
        account = await api.account()
        everywhere = await login(api, account)
        await api.call("POST", "/api/v1/logout", token=account.token)
        await api.call("POST", "/api/v1/logout-all", token=everywhere)
        await api.http.aclose()
        server.stop.set()
    server = await start_server(nursery, with_config(config))
    api = Api(server)
    try:
        assert await me(api, account.token) == 401
        assert await me(api, everywhere) == 401
        assert await me(api, await login(api, account)) == 200
    finally:
        await api.http.aclose()


async def test_a_token_newer_than_the_generation_a_process_heard_of_is_checked_in_the_database(
    db_url: str,
) -> None:
    """Two processes' tables over one database, before the announcement of a password change arrives."""
    async with open_database(db_url) as db:
        user = await db.create_user(f"u{secrets.token_hex(4)}", "not a hash")
        here, elsewhere = Revocations(db.credentials), Revocations(db.credentials)
        now = int(time.time())
        old = Claims(user.user_id, user.username, now + 3600, "old", 0, now)
        assert await here.accepts(old)  # here has loaded the generation
        fresh = Claims(
            user.user_id, user.username, now + 3600, "fresh", await elsewhere.revoke_all(user.user_id), now
        )
        assert await here.accepts(fresh)
        assert not await here.accepts(old)
