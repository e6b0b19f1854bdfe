"""Crashes, slow clients, liveness, restarts and shutdown, over a real server."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import jwt
import pytest
import trio
from trio_websocket import ConnectionClosed, connect_websocket_url
from wsproto.events import Ping, TextMessage

import actors.room
import actors.session
from actors.outbox import Outbox
from storage.interface import Draft
from tests.conftest import JWT_SECRET, Api, Connect, Server, start_server, with_config
from tests.raw_websocket import TEXT, RawClient, client_frame
from web.config import Config


async def _closed_code(peer: Any, timeout: float = 10) -> int:
    with trio.fail_after(timeout):
        while True:
            try:
                await peer.recv(timeout)
            except ConnectionClosed as closed:
                return int(closed.reason.code)


async def test_acked_message_is_in_history_after_a_restart(config: Config, nursery: trio.Nursery) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as first_run:  # left once serve() has returned: storage is closed
            first = await start_server(first_run, config)
            api = Api(first)
            alice = await api.account()
            peer = await Connect(first, nursery)(alice, join="lobby")
            ack = await peer.command({"type": "group", "room_id": "lobby", "content": "durable"})
            first.stop.set()
            assert await _closed_code(peer) == 1001, "shutdown closes every session with 1001"
            await first.running.services.journal.wait_flushed()
            await api.http.aclose()
    second = await start_server(nursery, config)
    r = await Api(second).call("GET", "/api/v1/rooms/lobby/messages", token=alice.token)
    assert [(m["id"], m["content"]) for m in r.json()["messages"]] == [(ack["id"], "durable")]
    ack2 = await (await Connect(second, nursery)(alice, join="lobby")).command(
        {"type": "group", "room_id": "lobby", "content": "after"}
    )
    assert ack2["id"] > ack["id"], "ids keep increasing across restarts"
    second.stop.set()


async def test_history_pages_backwards_with_before_and_limit(api: Api, connect: Connect) -> None:
    alice = await api.account()
    a = await connect(alice, join="lobby")
    ids = [
        (await a.command({"type": "group", "room_id": "lobby", "content": str(i)}))["id"] for i in range(7)
    ]
    r = await api.call("GET", "/api/v1/rooms/lobby/messages?limit=3", token=alice.token)
    assert [m["id"] for m in r.json()["messages"]] == ids[-3:]
    r = await api.call("GET", f"/api/v1/rooms/lobby/messages?limit=3&before={ids[-3]}", token=alice.token)
    assert [m["id"] for m in r.json()["messages"]] == ids[-6:-3]
    for bad in ("limit=0", "limit=201", "limit=x", "before=-1", "before=abc"):
        r = await api.call("GET", f"/api/v1/rooms/lobby/messages?{bad}", token=alice.token)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", bad
    r = await api.call("GET", "/api/v1/rooms/nowhere/messages", token=alice.token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "room_not_found"


async def test_rooms_api_creates_lists_and_gets_rooms(api: Api, connect: Connect) -> None:
    alice = await api.account()
    r = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "Rust & Trio"})
    assert r.status_code == 201
    room = r.json()["room"]
    await connect(alice, join=room["room_id"])
    r = await api.call("GET", "/api/v1/rooms", token=alice.token)
    listed = {x["room_id"]: x for x in r.json()["rooms"]}
    assert listed["lobby"]["online"] == 0 and listed[room["room_id"]]["online"] == 1
    r = await api.call("GET", f"/api/v1/rooms/{room['room_id']}", token=alice.token)
    assert r.json()["room"]["name"] == "Rust & Trio" and r.json()["room"]["online"] == 1
    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 65}, {"name": 3}, {}):
        r = await api.call("POST", "/api/v1/rooms", token=alice.token, json=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = await api.call("GET", "/api/v1/rooms/nowhere", token=alice.token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "room_not_found"


async def test_health_and_metrics_are_public(api: Api) -> None:
    r = await api.call("GET", "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await api.call("GET", "/metrics")
    assert r.status_code == 200 and "chat_sessions" in r.text


@pytest.fixture
def config(config: Config) -> Config:
    # The flood limit is lifted: these tests send big messages fast on purpose.
    return with_config(
        config,
        session_outbox=4,
        ping_interval=0.2,
        idle_timeout=0.8,
        max_content=60_000,
        rate_limit_enabled=False,
    )


async def test_a_session_that_never_reads_is_closed_1013_and_the_room_keeps_flowing(
    config: Config, nursery: trio.Nursery
) -> None:
    # A client that never reads never answers pings either: keep the idle timeout out of the way.
    # The sender floods on purpose: lift its flood limit.
    server = await start_server(
        nursery, with_config(config, idle_timeout=60, ping_interval=20, rate_limit_enabled=False)
    )
    api, connect = Api(server), Connect(server, nursery)
    alice, bob, slow = await api.account(), await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    laggard = await connect_websocket_url(
        nursery, f"{server.ws_url}?token={slow.token}", message_queue_size=0
    )
    await laggard.send_message(json.dumps({"type": "join", "room_id": "lobby"}))
    content = "z" * 60_000  # large frames fill the socket buffers quickly
    count = 300

    async def flood() -> None:
        # One message in flight at a time, so that the sender's and bob's outboxes of
        # four frames are enough for them: only the laggard falls behind.
        for _ in range(count):
            await a.command({"type": "group", "room_id": "lobby", "content": content})

    nursery.start_soon(flood)
    received = 0
    with trio.fail_after(60):
        while received < count:
            frame = await b.recv(30)
            received += frame["type"] == "group"
    codes = []
    with trio.fail_after(30):
        while True:
            try:
                await laggard.get_message()
            except ConnectionClosed as closed:
                codes.append(closed.reason.code)
                break
    assert codes == [1013]
    server.stop.set()


async def test_a_crashing_session_closes_1011_and_nothing_else_notices(
    api: Api, connect: Connect, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_parse = actors.session.parse_command

    def buggy(frame: str | bytes, **kw: Any) -> Any:
        if frame == "CRASH":
            raise RuntimeError("injected session bug")
        return real_parse(frame, **kw)

    monkeypatch.setattr(actors.session, "parse_command", buggy)
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    await b.send("CRASH")
    assert await _closed_code(b) == 1011
    notice = await a.expect("system", event="leave")
    assert notice["user"] == bob.user
    ack = await a.command({"type": "group", "room_id": "lobby", "content": "still here"})
    assert ack["type"] == "ack"
    crashed = [r for r in caplog.records if getattr(r, "event", None) == "crashed"]
    assert len(crashed) == 1 and crashed[0].actor.startswith(f"session:{bob.user_id}:")  # type: ignore[attr-defined]
    assert crashed[0].exc_info is not None


async def test_a_failure_writing_one_session_closes_it_1011_and_the_writer_carries_on(
    api: Api, connect: Connect, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    real_flush = Outbox.flush

    def buggy(self: Outbox) -> bytes | None:
        if self.owner.startswith(f"session:{bob.user_id}:"):
            raise RuntimeError("injected writer bug")
        return real_flush(self)

    monkeypatch.setattr(Outbox, "flush", buggy)
    await a.send({"type": "group", "room_id": "lobby", "content": "to both"})
    assert await _closed_code(b) == 1011
    assert (await a.expect("group"))["content"] == "to both"
    assert (await a.expect("system", event="leave"))["user"] == bob.user
    ack = await a.command({"type": "group", "room_id": "lobby", "content": "still flowing"})
    assert ack["type"] == "ack"
    crashed = [r for r in caplog.records if getattr(r, "event", None) == "crashed"]
    assert len(crashed) == 1 and crashed[0].actor.startswith(f"session:{bob.user_id}:")  # type: ignore[attr-defined]


async def test_a_crashing_room_is_restarted_and_its_members_stay(
    api: Api, connect: Connect, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_store_then_deliver = actors.room.store_then_deliver

    async def buggy(log: Any, queue: Any, draft: Draft, *rest: Any, **kw: Any) -> None:
        if draft.content == "boom":
            raise RuntimeError("injected room bug")
        await real_store_then_deliver(log, queue, draft, *rest, **kw)

    monkeypatch.setattr(actors.room, "store_then_deliver", buggy)  # the step a room takes for every message
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    await a.send({"type": "group", "room_id": "lobby", "content": "boom"})
    warning = await b.expect("error", code="internal")
    assert "restarted" in warning["message"]
    ack = await a.command({"type": "group", "room_id": "lobby", "content": "after the crash"})
    assert ack["type"] == "ack"
    assert (await b.expect("group"))["content"] == "after the crash"
    events = [(r.actor, r.event) for r in caplog.records if hasattr(r, "event")]  # type: ignore[attr-defined]
    assert ("room:lobby", "crashed") in events and ("room:lobby", "restarted") in events


async def _raw_upgrade(server: Server, token: str) -> trio.SocketStream:
    """A bare socket that has asked for the WebSocket upgrade and reads nothing by itself."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.running.port)
    request = (
        f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await stream.send_all(request.encode())
    return stream


def _client_frame(command: dict[str, Any]) -> bytes:
    """A masked text frame, as a client must send it (RFC 6455 section 5.3)."""
    payload, mask = json.dumps(command).encode(), b"\x0f\xf0\x55\xaa"
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_an_idle_connection_that_answers_no_ping_is_closed(api: Api, server: Server) -> None:
    account = await api.account()
    stream = await _raw_upgrade(server, account.token)
    started = trio.current_time()
    received = b""
    with trio.fail_after(10):
        while data := await stream.receive_some(65536):
            received += data  # the 101 and the server's pings, which this client never answers
    assert trio.current_time() - started >= 0.7
    head, _, frames = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert frames.startswith(b"\x89\x00"), "the heartbeat's ping came first"


async def test_a_client_that_sends_but_never_reads_is_dropped_after_its_1013(
    api: Api, connect: Connect, server: Server, nursery: trio.Nursery
) -> None:
    """Its 1013 close frame cannot get past its full socket: after the idle timeout it is dropped.

    It keeps sending pings of its own, so the idle timeout never closes it for
    silence; the session must still end, leave the room and free the socket.
    """
    alice, slow = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    stream = await _raw_upgrade(server, slow.token)
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive_some(1)  # up to the 101, and not a byte further
    await stream.send_all(_client_frame({"type": "join", "room_id": "lobby"}))
    await a.expect("system", event="join")

    dropped = trio.Event()

    async def keep_talking() -> None:
        try:
            while True:
                await stream.send_all(_client_frame({"type": "ping"}))
                # A client's own pace, on the real clock that the server's idle timeout runs on.
                await trio.sleep(0.1)
        except trio.BrokenResourceError:
            dropped.set()  # the server closed the connection

    nursery.start_soon(keep_talking)
    content = "z" * 60_000
    with trio.fail_after(30):
        while True:
            await a.command({"type": "group", "room_id": "lobby", "content": content})
            online = await a.command({"type": "online", "room_id": "lobby"})
            if slow.user not in online["users"]:
                break
    assert (await a.command({"type": "ping"}))["type"] == "pong"
    with trio.fail_after(10):
        await dropped.wait()
    await stream.aclose()


async def test_a_client_that_answers_pings_stays_connected(api: Api, server: Server) -> None:
    """Only pongs flow, for twice the idle timeout: the pings keep coming and the session stays."""
    client = await RawClient.open(server, await api.account())
    started = trio.current_time()
    for _ in range(round(2 * server.config.idle_timeout / server.config.ping_interval)):
        ping = await client.next_event()
        assert isinstance(ping, Ping), ping
        await client.send(client.ws.send(ping.response()))
    assert trio.current_time() - started > server.config.idle_timeout
    await client.send(client_frame(TEXT, b'{"type": "ping", "ref": 1}'))
    reply = await client.next_event()
    assert isinstance(reply, TextMessage) and json.loads(reply.data) == {"type": "pong", "ref": 1}


async def test_an_expired_token_closes_the_session_with_4401(
    api: Api, server: Server, nursery: trio.Nursery
) -> None:
    account = await api.account()
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": account.user_id,
            "name": account.username,
            "iat": now,
            "exp": now + 1,
            "iss": "chat-server",
            "jti": "short-lived",
            "gen": 0,
            "auth": now,
        },
        JWT_SECRET,
        algorithm="HS256",
    )
    ws = await connect_websocket_url(nursery, f"{server.ws_url}?token={token}")
    with trio.fail_after(10):
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.get_message()
    assert closed.value.reason.code == 4401


async def test_supervision_lines_never_hold_tokens(
    api: Api, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = await api.account()
    await connect(account, join="lobby")
    ours = [
        r
        for r in caplog.records
        if r.name.split(".")[0] in ("actors", "web", "storage", "hypercorn", "quart")
    ]
    assert ours, "the server logged its session start"
    assert all(account.token not in r.getMessage() for r in ours)
