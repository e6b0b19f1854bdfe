"""Reconnect without losing a message: join with "since", sync, and refresh on a live socket."""

from __future__ import annotations

import time
from typing import Any

import jwt
import trio
import trio.lowlevel

from tests.conftest import JWT_SECRET, Account, Api, Connect, Peer, open_ws, start_server, with_config
from web.config import Config


async def post(peer: Peer, room: str, content: str) -> int:
    ack = await peer.command({"type": "group", "room_id": room, "content": content})
    assert ack["type"] == "ack", ack
    return int(ack["id"])


async def group_messages(peer: Peer, room: str, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < count:
        frame = await peer.recv(10)
        if frame.get("type") == "group" and frame.get("room_id") == room:
            got.append(frame)
    return got


async def test_a_join_with_since_carries_what_was_missed_in_order(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    seen = await post(a, "lobby", "before the drop")
    ids = [await post(a, "lobby", f"missed {n}") for n in range(5)]
    b = await connect(bob)
    joined = await b.command({"type": "join", "room_id": "lobby", "since": seen})
    assert joined["type"] == "joined" and joined["recovered"] is True and "truncated" not in joined
    assert [m["id"] for m in joined["messages"]] == ids
    assert [m["content"] for m in joined["messages"]] == [f"missed {n}" for n in range(5)]
    later = await post(a, "lobby", "live")
    assert [m["id"] for m in await group_messages(b, "lobby", 1)] == [later]


async def test_a_join_without_since_answers_as_before(api: Api, connect: Connect) -> None:
    alice = await api.account()
    a = await connect(alice)
    joined = await a.command({"type": "join", "room_id": "lobby"})
    assert set(joined) == {"type", "room", "users", "ref"}


async def stored_ids(api: Api, token: str, room: str) -> list[int]:
    """Every message id of the room's history, oldest first, paging back from the newest."""
    ids: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 200} if before is None else {"limit": 200, "before": before}
        page = (await api.call("GET", f"/api/v1/rooms/{room}/messages", params=params, token=token)).json()
        if not page["messages"]:
            return ids
        ids = [m["id"] for m in page["messages"]] + ids
        before = ids[0]


async def test_recovery_meets_live_messages_exactly_while_others_post_at_full_speed(
    config: Config, nursery: trio.Nursery
) -> None:
    """Two members post as fast as they can while a third drops and rejoins with since, again and again.

    Over all its sessions the third receives every message of the room once,
    in order: the recovered part of each join and the live part after it meet
    with no gap and no duplicate.
    """
    server = await start_server(
        nursery,
        with_config(config, rate_limit_enabled=False, recovery_messages=10_000, session_outbox=100_000),
    )
    api = Api(server)
    connect = Connect(server, nursery)
    posters = [await connect(await api.account(), join="lobby") for _ in range(2)]
    reader = await api.account()

    async def keep_posting(peer: Peer, name: str) -> None:
        n = 0
        while True:  # until the reader is done
            n += 1
            await peer.send({"type": "group", "room_id": "lobby", "content": f"{name} {n}"})
            if n % 10 == 0:
                await trio.lowlevel.checkpoint()

    received: list[int] = []
    async with trio.open_nursery() as posting:
        for i, peer in enumerate(posters):
            posting.start_soon(keep_posting, peer, f"p{i}")
        last = 0
        for _ in range(6):
            # A reply may carry up to 10,000 messages when the machine is slow to reconnect: more
            # than trio-websocket's default 1 MiB, a limit of this client, not of the protocol.
            ws = await open_ws(nursery, f"{server.ws_url}?token={reader.token}", max_message_size=2**26)
            peer = Peer(ws)
            await peer.send({"type": "join", "room_id": "lobby", "since": last, "ref": "rejoin"})
            early = []  # anything of the room's that overtook the reply
            while (frame := await peer.recv(10)).get("ref") != "rejoin":
                early += [frame["id"]] if frame.get("type") == "group" else []
            assert frame["type"] == "joined" and frame["recovered"] is True
            ids = early + [m["id"] for m in frame["messages"]]
            ids += [m["id"] for m in await group_messages(peer, "lobby", 40)]  # then live, for a while
            await peer.ws.aclose()
            received += ids
            last = ids[-1]
        posting.cancel_scope.cancel()
    everything = await stored_ids(api, reader.token, "lobby")
    assert received == everything[: len(received)]  # every message once, in order, up to the last one seen
    assert len(received) > 240
    await api.http.aclose()


async def test_more_missed_than_the_limit_gives_the_newest_and_says_truncated(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, recovery_messages=5, rate_limit_enabled=False))
    api = Api(server)
    connect = Connect(server, nursery)
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    ids = [await post(a, "lobby", f"m{n}") for n in range(8)]
    b = await connect(bob)
    joined = await b.command({"type": "join", "room_id": "lobby", "since": 0})
    assert joined["recovered"] is False and joined["truncated"] is True
    assert [m["id"] for m in joined["messages"]] == ids[-5:]
    await api.http.aclose()


async def test_recovery_works_across_a_server_restart(config: Config, nursery: trio.Nursery) -> None:
    async with trio.open_nursery() as first:
        server = await start_server(first, config)
        api = Api(server)
        alice, bob = await api.account(), await api.account()
        a = await Connect(server, first)(alice, join="lobby")
        seen = await post(a, "lobby", "seen")
        missed = await post(a, "lobby", "missed")
        await api.http.aclose()
        server.stop.set()
    server = await start_server(nursery, config)
    b = await Connect(server, nursery)(bob)
    joined = await b.command({"type": "join", "room_id": "lobby", "since": seen})
    assert [m["id"] for m in joined["messages"]] == [missed] and joined["recovered"] is True


async def test_sync_returns_the_private_messages_missed_in_both_directions(
    api: Api, connect: Connect
) -> None:
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    a = await connect(alice)
    c = await connect(carol)
    first = await a.command({"type": "private", "target_id": bob.user_id, "content": "to bob, offline"})
    await a.command({"type": "private", "target_id": carol.user_id, "content": "not bob's"})
    b = await connect(bob)
    reply = await b.command({"type": "private", "target_id": alice.user_id, "content": "bob to alice"})
    synced = await b.command({"type": "sync", "since": 0})
    assert synced["type"] == "synced" and synced["recovered"] is True
    assert [m["id"] for m in synced["messages"]] == [
        first["id"]
    ]  # bob's own reply came live, after connecting
    assert all(bob.user_id in (m["sender"]["user_id"], m["target_id"]) for m in synced["messages"])
    assert (await b.command({"type": "sync", "since": first["id"]}))["messages"] == []
    assert reply["type"] == "ack"
    del c


def forged(account: Account, *, exp_in: int, user_id: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id or account.user_id,
        "name": account.username,
        "iat": now,
        "exp": now + exp_in,
        "iss": "chat-server",
        "jti": f"t{now}{exp_in}",
        "gen": 0,
        "auth": now,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def test_refresh_on_a_live_socket_moves_the_expiry(api: Api, connect: Connect) -> None:
    alice = await api.account()
    short = Account(alice.user_id, alice.username, alice.password, forged(alice, exp_in=2))
    peer = await connect(short)
    r = await api.call("POST", "/api/v1/refresh", token=alice.token)
    assert r.status_code == 200, r.text
    fresh = r.json()["token"]
    assert r.json()["expires_in"] > 3600
    refreshed = await peer.command({"type": "refresh", "token": fresh})
    assert refreshed["type"] == "refreshed" and refreshed["expires_in"] > 3600
    with trio.fail_after(3):  # the short token's expiry passes while the session lives on
        await trio.sleep(2.5)
    assert (await peer.command({"type": "ping"}))["type"] == "pong"


async def test_refresh_with_another_users_or_a_dead_token_is_forbidden(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    peer = await connect(alice)
    for token in (bob.token, forged(alice, exp_in=-120), "not a token"):
        refused = await peer.command({"type": "refresh", "token": token})
        assert refused["type"] == "error" and refused["code"] == "forbidden", refused
    logged_out = (
        await api.call("POST", "/api/v1/login", json={"username": alice.username, "password": alice.password})
    ).json()["token"]
    await api.call("POST", "/api/v1/logout", token=logged_out)
    refused = await peer.command({"type": "refresh", "token": logged_out})
    assert refused["code"] == "forbidden"
    assert (await peer.command({"type": "ping"}))["type"] == "pong"


async def test_refresh_over_http_keeps_the_login_time_and_refuses_an_old_login(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, max_session_days=1 / 86400))  # one second
    api = Api(server)
    try:
        alice = await api.account()
        assert (await api.call("POST", "/api/v1/refresh", token=alice.token)).status_code == 200
        claims = jwt.decode(alice.token, options={"verify_signature": False})
        old = dict(claims, auth=claims["auth"] - 10, jti="older-login")
        r = await api.call("POST", "/api/v1/refresh", token=jwt.encode(old, JWT_SECRET, algorithm="HS256"))
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    finally:
        await api.http.aclose()
