"""The cluster mode, two server processes' worth of actors over one database and one Redis.

These tests run two servers in this process (each its own actors, its own
port, its own Redis link), sharing a fresh database and a Redis namespace of
their own; the tests that need real processes (kill -9, the load balancer)
are in test_cluster_processes.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.cluster import fresh_namespace
from tests.conftest import JWT_SECRET, Api, Connect, Peer, Server, start_server
from web.config import Config

pytestmark = pytest.mark.cluster


@dataclass
class Pair:
    a: Server
    b: Server
    api_a: Api
    api_b: Api
    connect_a: Connect
    connect_b: Connect


def cluster_config(tmp_path: Path, db_url: str, redis_url: str, **changes: Any) -> Config:
    """What every process of one test's cluster shares: the database, Redis and a namespace of its own."""
    return Config(
        host="127.0.0.1",
        port=0,
        data_dir=tmp_path / "data",
        db_url=db_url,
        jwt_secret=JWT_SECRET,
        shutdown_timeout=5,
        redis_url=redis_url,
        redis_namespace=fresh_namespace(),
        **changes,
    )


@pytest.fixture
async def pair(
    tmp_path: Path, cluster_db_url: str, redis_url: str, nursery: trio.Nursery
) -> AsyncIterator[Pair]:
    shared = cluster_config(tmp_path, cluster_db_url, redis_url, rate_limit_enabled=False)
    a = await start_server(nursery, shared)
    b = await start_server(nursery, shared)
    pair = Pair(a, b, Api(a), Api(b), Connect(a, nursery), Connect(b, nursery))
    yield pair
    await pair.api_a.http.aclose()
    await pair.api_b.http.aclose()


async def frames(peer: Peer, kind: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    got = []
    while len(got) < count:
        got.append(await peer.expect(kind, timeout=10, **fields))
    return got


async def until_online(peer: Peer, user_id: str) -> None:
    """Until ``user_id`` is in the site-wide online list (another process counts a session in on its own time)."""
    with trio.fail_after(10):
        while user_id not in [u["user_id"] for u in (await peer.command({"type": "online"}))["users"]]:
            await trio.sleep(0.02)


async def nothing_more(peer: Peer, kind: str, seconds: float = 0.5) -> None:
    with trio.move_on_after(seconds):
        frame = await peer.expect(kind, timeout=seconds + 1)
        raise AssertionError(f"unexpected {kind}: {frame}")


async def test_a_group_message_reaches_every_member_on_both_processes_once(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    a = await pair.connect_a(alice, join="lobby")
    b = await pair.connect_b(bob, join="lobby")
    ack = await a.command({"type": "group", "room_id": "lobby", "content": "across"})
    assert ack["type"] == "ack"
    for peer in (a, b):
        got = await peer.expect("group", timeout=10)
        assert (got["id"], got["content"]) == (ack["id"], "across")
        await nothing_more(peer, "group")


async def test_every_member_everywhere_sees_one_order_equal_to_the_history(pair: Pair) -> None:
    accounts = [await pair.api_a.account() for _ in range(4)]
    senders = [
        await pair.connect_a(accounts[0], join="lobby"),
        await pair.connect_b(accounts[1], join="lobby"),
    ]
    readers = [
        await pair.connect_a(accounts[2], join="lobby"),
        await pair.connect_b(accounts[3], join="lobby"),
    ]

    async def send(peer: Peer, name: str) -> None:
        for n in range(40):
            await peer.send({"type": "group", "room_id": "lobby", "content": f"{name}{n}"})

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send, senders[0], "a")
        nursery.start_soon(send, senders[1], "b")
    seen = [[m["id"] for m in await frames(r, "group", 80)] for r in readers]
    assert seen[0] == seen[1] == sorted(seen[0])
    history = await pair.api_b.call(
        "GET", "/api/v1/rooms/lobby/messages", params={"limit": 200}, token=accounts[3].token
    )
    assert [m["id"] for m in history.json()["messages"]] == seen[0]


async def test_a_burst_of_posts_is_acked_one_by_one_and_delivered_everywhere_in_the_order_sent(
    pair: Pair,
) -> None:
    """Posts queued together are numbered together; nothing about that shows on the wire but speed."""
    alice, bob, outsider = [await pair.api_a.account() for _ in range(3)]
    a = await pair.connect_a(alice, join="lobby")
    b = await pair.connect_b(bob, join="lobby")
    stranger = await pair.connect_a(outsider)
    for n in range(120):
        await a.send({"type": "group", "room_id": "lobby", "content": f"m{n}", "ref": f"r{n}"})
        if n == 60:
            await stranger.send({"type": "group", "room_id": "lobby", "content": "sneak", "ref": "x"})
    refused = await stranger.expect("error", timeout=10)
    assert (refused["code"], refused["ref"]) == ("not_in_room", "x")
    acks, own = [], []
    with trio.fail_after(10):
        while len(acks) < 120 or len(own) < 120:
            frame = await a.recv(10)
            (acks if frame["type"] == "ack" else own if frame["type"] == "group" else []).append(frame)
    assert [ack["ref"] for ack in acks] == [f"r{n}" for n in range(120)]
    ids = [ack["id"] for ack in acks]
    assert ids == sorted(set(ids))
    for got in (own, await frames(b, "group", 120)):
        assert [(m["id"], m["content"]) for m in got] == [(i, f"m{n}") for n, i in enumerate(ids)]
    history = await pair.api_b.call(
        "GET", "/api/v1/rooms/lobby/messages", params={"limit": 200}, token=bob.token
    )
    assert [m["id"] for m in history.json()["messages"]] == ids


async def test_a_private_message_reaches_the_target_and_the_sender_wherever_they_are(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    alice_a = await pair.connect_a(alice)
    alice_b = await pair.connect_b(alice)
    bob_b = await pair.connect_b(bob)
    await until_online(alice_a, bob.user_id)  # bob's process has counted his session in
    ack = await alice_a.command({"type": "private", "target_id": bob.user_id, "content": "psst"})
    assert ack["type"] == "ack" and ack["delivered"] is True
    for peer in (alice_a, alice_b, bob_b):
        got = await peer.expect("private", timeout=10)
        assert (got["id"], got["content"], got["target_id"]) == (ack["id"], "psst", bob.user_id)
    offline = await pair.api_a.account()
    stored = await alice_b.command({"type": "private", "target_id": offline.user_id, "content": "later"})
    assert stored["delivered"] is False


async def test_presence_is_the_union_and_each_user_joins_and_leaves_once(pair: Pair) -> None:
    alice, carol = await pair.api_a.account(), await pair.api_a.account()
    watcher = await pair.connect_b(carol, join="lobby")
    phone = await pair.connect_a(alice, join="lobby")
    assert (await watcher.expect("system", timeout=10, event="join"))["user"] == alice.user
    laptop = await pair.connect_b(alice)
    joined = await laptop.command({"type": "join", "room_id": "lobby"})
    assert sorted(u["user_id"] for u in joined["users"]) == sorted([alice.user_id, carol.user_id])
    await nothing_more(watcher, "system")
    for peer in (phone, watcher):
        online = await peer.command({"type": "online", "room_id": "lobby"})
        assert sorted(u["user_id"] for u in online["users"]) == sorted([alice.user_id, carol.user_id])
        site = await peer.command({"type": "online"})
        assert [u["user_id"] for u in site["users"]].count(alice.user_id) == 1
    await phone.command({"type": "leave", "room_id": "lobby"})
    await nothing_more(watcher, "system")
    await laptop.command({"type": "leave", "room_id": "lobby"})
    assert (await watcher.expect("system", timeout=10, event="leave"))["user"] == alice.user
    await nothing_more(watcher, "system")


async def test_a_process_that_stops_gracefully_leaves_no_ghost(
    tmp_path: Path, cluster_db_url: str, redis_url: str, nursery: trio.Nursery
) -> None:
    shared = cluster_config(tmp_path, cluster_db_url, redis_url)
    a = await start_server(nursery, shared)
    api = Api(a)
    alice, bob = await api.account(), await api.account()
    watcher = await Connect(a, nursery)(alice, join="lobby")
    async with trio.open_nursery() as b_nursery:
        b = await start_server(b_nursery, shared)
        await Connect(b, b_nursery)(bob, join="lobby")
        assert (await watcher.expect("system", timeout=10, event="join"))["user"] == bob.user
        b.stop.set()
    assert (await watcher.expect("system", timeout=10, event="leave"))["user"] == bob.user
    await nothing_more(watcher, "system")
    online = await watcher.command({"type": "online"})
    assert [u["user_id"] for u in online["users"]] == [alice.user_id]
    await api.http.aclose()


async def test_a_new_room_reaches_sessions_on_every_process_and_a_name_is_taken_once(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    on_a = await pair.connect_a(alice)
    on_b = await pair.connect_b(bob)
    made = await pair.api_a.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "Garden"})
    assert made.status_code == 201
    for peer in (on_a, on_b):
        pushed = await peer.expect("room_created", timeout=10)
        assert pushed["room"] == {**made.json()["room"], "online": 0}
    statuses: list[int] = []

    async def create(api: Api, token: str, name: str) -> None:
        answer = await api.call("POST", "/api/v1/rooms", token=token, json={"name": name})
        statuses.append(answer.status_code)

    async with trio.open_nursery() as racing:  # one name, to both processes at once
        racing.start_soon(create, pair.api_a, alice.token, "Chess")
        racing.start_soon(create, pair.api_b, bob.token, "CHESS")
    assert sorted(statuses) == [201, 409]
    listed = await pair.api_b.call("GET", "/api/v1/rooms", token=bob.token, params={"limit": 200})
    assert [r["name"].casefold() for r in listed.json()["rooms"]].count("chess") == 1
    for peer in (on_a, on_b):  # the one room made is the one pushed
        assert (await peer.expect("room_created", timeout=10))["room"]["name"].casefold() == "chess"
        await nothing_more(peer, "room_created")


async def test_a_read_marker_reaches_the_users_session_on_the_other_process(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    writer = await pair.connect_a(alice)
    desk = await pair.connect_a(bob)
    phone = await pair.connect_b(bob)
    ack = await writer.command({"type": "private", "target_id": bob.user_id, "content": "read me"})
    await phone.expect("private", timeout=10, id=ack["id"])
    reply = await desk.command({"type": "read", "peer_id": alice.user_id, "up_to": ack["id"]})
    assert reply["up_to"] == ack["id"]
    marker = await phone.expect("read_marker", timeout=10)
    assert marker == {"type": "read_marker", "peer_id": alice.user_id, "up_to": ack["id"]}
    counts = await pair.api_a.call("GET", "/api/v1/unread", token=bob.token, params={"peers": alice.user_id})
    assert counts.json()["conversations"] == [{"peer_id": alice.user_id, "last_read": ack["id"], "unread": 0}]


async def test_a_kick_a_mute_and_a_ban_hold_on_every_process_with_one_notice_each(pair: Pair) -> None:
    owner, bob, carol = [await pair.api_a.account() for _ in range(3)]
    made = await pair.api_a.call("POST", "/api/v1/rooms", token=owner.token, json={"name": "Moderated"})
    room_id = made.json()["room"]["room_id"]
    moderator = await pair.connect_a(owner, join=room_id)
    watcher = await pair.connect_b(carol, join=room_id)
    bob_a, bob_b = await pair.connect_a(bob, join=room_id), await pair.connect_b(bob, join=room_id)
    await watcher.expect("system", timeout=10, event="join")

    async def act(action: str, **more: Any) -> dict[str, Any]:
        return await moderator.command({"type": action, "room_id": room_id, "user_id": bob.user_id, **more})

    assert (await act("mute"))["type"] == "moderated"
    for peer in (moderator, watcher):
        assert (await peer.expect("system", timeout=10, event="mute"))["user"] == bob.user
    for bob_peer in (bob_a, bob_b):  # refused on either process, and stored nowhere
        refused = await bob_peer.command({"type": "group", "room_id": room_id, "content": "shh"})
        assert refused["code"] == "muted"
    await act("unmute")
    await watcher.expect("system", timeout=10, event="unmute")

    assert (await act("kick", reason="cool off"))["type"] == "moderated"
    for bob_peer in (bob_a, bob_b):  # both sessions, on both processes, are out
        assert (await bob_peer.expect("kicked", timeout=10))["reason"] == "cool off"
    kick = await watcher.expect("system", timeout=10, event="kick")
    assert kick["actor"] == owner.user
    assert (await watcher.expect("system", timeout=10, event="leave"))["user"] == bob.user
    await nothing_more(watcher, "system")
    refused = await bob_b.command({"type": "group", "room_id": room_id, "content": "still here?"})
    assert refused["code"] == "not_in_room"

    assert (await act("ban"))["type"] == "moderated"
    await watcher.expect("system", timeout=10, event="ban")
    for bob_peer in (bob_a, bob_b):
        refused = await bob_peer.command({"type": "join", "room_id": room_id})
        assert refused["code"] == "banned"
    history = await pair.api_b.call("GET", f"/api/v1/rooms/{room_id}/messages", token=carol.token)
    assert history.json()["messages"] == []


async def test_a_drop_on_one_process_and_a_return_on_the_other_within_the_grace_tell_nobody(
    tmp_path: Path, cluster_db_url: str, redis_url: str, nursery: trio.Nursery
) -> None:
    shared = cluster_config(tmp_path, cluster_db_url, redis_url, leave_grace=1.0)
    a, b = await start_server(nursery, shared), await start_server(nursery, shared)
    api = Api(a)
    alice, bob = await api.account(), await api.account()
    watcher = await Connect(b, nursery)(bob, join="lobby")
    tab = await Connect(a, nursery)(alice, join="lobby", query="&linger=30")
    await watcher.expect("system", timeout=10, event="join")
    await tab.ws.aclose()
    # The reload's new page landed on the other process.
    back = await Connect(b, nursery)(alice, join="lobby", query="&linger=30")
    await nothing_more(watcher, "system", 1.5)
    gone = await Connect(a, nursery)(alice, join="lobby", query="&linger=0.5")
    await gone.ws.aclose()
    await nothing_more(watcher, "system", 1.0)  # alice still has her session on b
    online = await watcher.command({"type": "online", "room_id": "lobby"})
    assert alice.user_id in [u["user_id"] for u in online["users"]]
    await back.ws.aclose()  # her last session anywhere: one leave, once the grace has passed
    assert (await watcher.expect("system", timeout=10, event="leave"))["user"] == alice.user
    await nothing_more(watcher, "system", 0.5)
    await api.http.aclose()


async def test_typing_reaches_the_rooms_sessions_on_the_other_process(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    typist = await pair.connect_a(alice, join="lobby")
    reader = await pair.connect_b(bob, join="lobby")
    await typist.send({"type": "typing", "room_id": "lobby"})
    notice = await reader.expect("typing", timeout=10)
    assert (notice["room_id"], notice["user"]) == ("lobby", alice.user)
    await nothing_more(typist, "typing", 0.3)


async def test_typing_to_a_peer_reaches_their_session_on_the_other_process(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    typist = await pair.connect_a(alice)
    reader = await pair.connect_b(bob)
    await typist.send({"type": "typing", "peer_id": bob.user_id})
    notice = await reader.expect("typing", timeout=10)
    assert (notice["peer_id"], notice["user"]) == (alice.user_id, alice.user)
    await nothing_more(reader, "typing", 0.3)  # once, though both processes heard of it
