"""The WebSocket contract, line by line, over a real server and real sockets."""

from __future__ import annotations

import json

import pytest
import trio
from trio_websocket import ConnectionClosed

from tests.conftest import Api, Connect, start_server, with_config
from web.config import Config


async def test_join_replies_joined_with_the_online_users_and_notifies_the_room(
    api: Api, connect: Connect
) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob)
    joined = await b.command({"type": "join", "room_id": "lobby"})
    assert joined["type"] == "joined"
    assert joined["room"]["room_id"] == "lobby"
    assert {u["user_id"] for u in joined["users"]} == {alice.user_id, bob.user_id}
    notice = await a.expect("system", event="join")
    assert notice["user"] == bob.user and notice["room_id"] == "lobby"
    assert isinstance(notice["timestamp"], int) and isinstance(notice["content"], str)


async def test_second_session_does_not_repeat_the_join_notice(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    await connect(bob, join="lobby")
    await a.expect("system", event="join")
    await connect(bob, join="lobby")  # bob's second tab
    again = await a.command({"type": "join", "room_id": "lobby"})  # joining twice is joined again
    assert again["type"] == "joined"
    await a.send({"type": "ping"})
    assert (await a.recv())["type"] == "pong", "no second join notice before the pong"


async def test_leave_notice_is_sent_when_the_last_session_goes(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b1 = await connect(bob, join="lobby")
    b2 = await connect(bob, join="lobby")
    await a.expect("system", event="join")
    left = await b1.command({"type": "leave", "room_id": "lobby"})
    assert left == {"type": "left", "room_id": "lobby", "ref": left["ref"]}
    await b2.ws.aclose()
    notice = await a.expect("system", event="leave")
    assert notice["user"] == bob.user


async def test_group_message_is_acked_and_reaches_every_session_of_the_room(
    api: Api, connect: Connect
) -> None:
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    c = await connect(carol)  # not in the room
    ack = await a.command(
        {"type": "group", "room_id": "lobby", "content": "héllo 张三", "sender": "spoof", "id": 1}
    )
    assert ack["type"] == "ack" and isinstance(ack["id"], int) and isinstance(ack["timestamp"], int)
    for peer in (a, b):
        msg = await peer.expect("group")
        assert msg == {
            "type": "group",
            "id": ack["id"],
            "content": "héllo 张三",
            "sender": alice.user,
            "timestamp": ack["timestamp"],
            "room_id": "lobby",
        }
    await c.send({"type": "ping"})
    assert (await c.recv())["type"] == "pong", "a session outside the room gets nothing"


async def test_refusals_name_the_documented_error_code(api: Api, connect: Connect) -> None:
    alice = await api.account()
    a = await connect(alice)
    cases = [
        ({"type": "group", "room_id": "lobby", "content": "x"}, "not_in_room"),
        ({"type": "group", "room_id": "nowhere", "content": "x"}, "room_not_found"),
        ({"type": "join", "room_id": "nowhere"}, "room_not_found"),
        ({"type": "leave", "room_id": "lobby"}, "not_in_room"),
        ({"type": "private", "target_id": "nobody", "content": "x"}, "user_not_found"),
        ({"type": "dance"}, "unknown_type"),
        ({"type": "group", "room_id": "lobby"}, "bad_request"),
        ({"type": "group", "room_id": 5, "content": "x"}, "bad_request"),
        ({"type": "group", "room_id": "lobby", "content": ""}, "bad_request"),
        ({"type": "group", "room_id": "lobby", "content": "x" * 4001}, "content_too_long"),
        ({"type": 7}, "bad_request"),
    ]
    for command, code in cases:
        reply = await a.command(command)
        assert reply["type"] == "error" and reply["code"] == code, (command, reply)
        assert reply["message"]


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"type": "ping", "type": "ping"}',
        '{"type": "ping", "x": NaN}',
        '{"type": "ping", "x": Infinity}',
        '{"type": "ping", "x": "\\ud800"}',
        '{"type": "ping", "x": ' + "[" * 40 + "]" * 40 + "}",
        '{"type": "ping", "ref": {"a": 1}}',
        '{"type": "ping", "ref": "' + "r" * 65 + '"}',
        b"\x00binary",
    ],
)
async def test_malformed_frames_are_bad_request_and_the_connection_stays_open(
    api: Api, connect: Connect, frame: str | bytes
) -> None:
    a = await connect(await api.account())
    await a.send(frame)
    reply = await a.recv()
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    assert (await a.command({"type": "ping"}))["type"] == "pong"


async def test_ref_is_echoed_as_sent(api: Api, connect: Connect) -> None:
    a = await connect(await api.account())
    await a.send({"type": "ping", "ref": 42})
    assert await a.recv() == {"type": "pong", "ref": 42}
    await a.send({"type": "join", "room_id": "nowhere", "ref": "r-1"})
    assert (await a.recv())["ref"] == "r-1"


async def test_online_lists_per_room_and_site_wide(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    await connect(bob)
    room = await a.command({"type": "online", "room_id": "lobby"})
    assert room["type"] == "online" and room["room_id"] == "lobby" and room["users"] == [alice.user]
    site = await a.command({"type": "online"})
    assert {u["user_id"] for u in site["users"]} >= {alice.user_id, bob.user_id}
    assert "room_id" not in site
    r = await api.call("GET", "/api/v1/online", token=alice.token)
    assert {u["user_id"] for u in r.json()["users"]} >= {alice.user_id, bob.user_id}
    r = await api.call("GET", "/api/v1/rooms/lobby/online", token=alice.token)
    assert r.json() == {"users": [alice.user]}


async def test_private_message_reaches_every_session_of_both_users(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a1, a2 = await connect(alice), await connect(alice)
    b = await connect(bob)
    ack = await a1.command({"type": "private", "target_id": bob.user_id, "content": "psst"})
    assert ack["type"] == "ack" and ack["delivered"] is True
    for peer in (a1, a2, b):
        msg = await peer.expect("private")
        assert msg["id"] == ack["id"] and msg["target_id"] == bob.user_id and msg["sender"] == alice.user


async def test_private_message_to_an_offline_user_is_stored_then_readable(api: Api, connect: Connect) -> None:
    alice, bob, eve = await api.account(), await api.account(), await api.account()
    a = await connect(alice)
    ack = await a.command({"type": "private", "target_id": bob.user_id, "content": "while you were out"})
    assert ack["delivered"] is False
    r = await api.call("GET", f"/api/v1/private/{alice.user_id}/messages", token=bob.token)
    assert [m["content"] for m in r.json()["messages"]] == ["while you were out"]
    r = await api.call("GET", f"/api/v1/private/{bob.user_id}/messages", token=eve.token)
    assert r.json()["messages"] == [], "a third user never reads the conversation"
    r = await api.call("GET", "/api/v1/private/nobody/messages", token=bob.token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"


async def test_two_racing_senders_are_seen_in_one_order_equal_to_history(api: Api, connect: Connect) -> None:
    senders = [await api.account() for _ in range(2)]
    receivers = [await api.account() for _ in range(3)]
    room = (await api.call("POST", "/api/v1/rooms", token=senders[0].token, json={"name": "race"})).json()[
        "room"
    ]
    rid = room["room_id"]
    s_peers = [await connect(s, join=rid) for s in senders]
    r_peers = [await connect(r, join=rid) for r in receivers]
    per_sender = 30

    async def send_all(peer: object, tag: str) -> None:
        for i in range(per_sender):
            await peer.send({"type": "group", "room_id": rid, "content": f"{tag}-{i}"})  # type: ignore[attr-defined]

    async with trio.open_nursery() as n:
        for i, p in enumerate(s_peers):
            n.start_soon(send_all, p, f"s{i}")
    seen = []
    for peer in r_peers:
        ids = []
        while len(ids) < 2 * per_sender:
            ids.append((await peer.expect("group"))["id"])
        seen.append(ids)
    assert seen[0] == seen[1] == seen[2] == sorted(seen[0])
    r = await api.call("GET", f"/api/v1/rooms/{rid}/messages?limit=200", token=receivers[0].token)
    assert [m["id"] for m in r.json()["messages"]] == seen[0]


async def test_frame_over_the_limit_closes_with_1009(api: Api, connect: Connect) -> None:
    a = await connect(await api.account())
    await a.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    with pytest.raises(ConnectionClosed) as closed:
        await a.recv()
    assert closed.value.reason.code == 1009


async def test_server_does_not_negotiate_compression(api: Api, server: object, nursery: trio.Nursery) -> None:
    from trio_websocket import connect_websocket_url

    account = await api.account()
    ws = await connect_websocket_url(
        nursery,
        f"{server.ws_url}?token={account.token}",  # type: ignore[attr-defined]
        extra_headers=[(b"Sec-WebSocket-Extensions", b"permessage-deflate; client_max_window_bits")],
    )
    await ws.send_message('{"type":"ping"}')
    assert json.loads(await ws.get_message()) == {"type": "pong"}
    assert not ws.handshake_headers or all(
        k.lower() != b"sec-websocket-extensions" for k, _ in ws.handshake_headers
    )


async def test_frames_stay_whole_when_the_socket_takes_only_part_of_a_write(
    config: Config, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob stops reading, so the server's direct writes fill his socket and fall back part-way.

    Every frame must still arrive whole and in order: the rest of a partly
    written batch goes out before anything else.
    """
    from transport.websocket import WebSocketTransport

    server = await start_server(nursery, with_config(config, rate_limit_enabled=False))  # alice floods
    api, connect = Api(server), Connect(server, nursery)

    writes = {"direct": 0, "partial": 0}
    real_write_now = WebSocketTransport.write_now

    def counting_write_now(self: WebSocketTransport, data: bytes) -> int:
        written = real_write_now(self, data)
        writes["direct"] += 1
        writes["partial"] += 0 < written < len(data) or written == 0
        return written

    monkeypatch.setattr(WebSocketTransport, "write_now", counting_write_now)
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")  # trio-websocket stops reading the socket once a message waits
    count, content = 200, "\U0001f600" * 4000  # 16 KB per frame: megabytes in all
    for n in range(count):
        await a.send({"type": "group", "room_id": "lobby", "content": content, "ref": n})
        await a.expect("ack", ref=n)
    seen = []
    while len(seen) < count:
        frame = await b.recv()
        if frame["type"] == "group":
            assert frame["content"] == content
            seen.append(frame["id"])
    assert seen == sorted(seen)
    assert writes["direct"] > 0, "the direct write path was not used"
    assert writes["partial"] > 0, "the socket never filled: the fallback path was not exercised"
    await api.http.aclose()


async def test_a_session_past_its_flood_limit_is_told_rate_limited_and_stays_open(
    config: Config, nursery: trio.Nursery
) -> None:
    # A bucket of 3 that refills once every 1000 s: the 4th frame is over the limit
    # however fast or slow this test runs.
    server = await start_server(nursery, with_config(config, ws_frame_burst=3, ws_frame_rate=0.001))
    api = Api(server)
    try:
        alice = await api.account()
        a = await Connect(server, nursery)(alice)
        for ref in range(3):
            await a.send({"type": "ping", "ref": ref})
            assert await a.recv() == {"type": "pong", "ref": ref}
        await a.send({"type": "group", "room_id": "lobby", "content": "one too many", "ref": "r"})
        refused = await a.recv()
        assert refused["type"] == "error" and refused["code"] == "rate_limited" and refused["ref"] == "r"
        assert "per second" in refused["message"]
        history = await api.call("GET", "/api/v1/rooms/lobby/messages", token=alice.token)
        assert history.json()["messages"] == []  # refused means not carried out
    finally:
        await api.http.aclose()


async def test_the_flood_limit_is_lifted_with_the_rate_limit_switch(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(
        nursery, with_config(config, ws_frame_burst=1, ws_frame_rate=0.001, rate_limit_enabled=False)
    )
    api = Api(server)
    try:
        a = await Connect(server, nursery)(await api.account())
        for ref in range(10):
            await a.send({"type": "ping", "ref": ref})
            assert await a.recv() == {"type": "pong", "ref": ref}
    finally:
        await api.http.aclose()
