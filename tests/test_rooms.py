"""Rooms at scale: creation rate and quota, a paged room list, and room actors that stop when idle."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from actors.messages import GetMembers, JoinRoom, LeaveRoom, PostGroup
from actors.ref import ActorGone, ActorRef, Reply
from actors.rooms import RoomSupervisor
from actors.supervisor import RestartIntensity
from tests.conftest import Account, Api, Connect, Server, start_server, with_config
from tests.in_memory import HeldLog, Member
from tests.supervision_log import SupervisionLog
from web.config import Config
from wire.shapes import RoomInfo, User

# --- creation: a rate per account and a quota per account ------------------


async def test_creating_rooms_faster_than_the_rate_is_429_with_retry_after(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, room_creations=3))
    api = Api(server)
    alice, bob = await api.account(), await api.account()
    for i in range(3):
        r = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": f"a{i}"})
        assert r.status_code == 201, r.text
    r = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "one too many"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    r = await api.call("POST", "/api/v1/rooms", token=bob.token, json={"name": "bob's"})
    assert r.status_code == 201, "the rate is counted per account"
    await api.http.aclose()


async def test_an_account_past_its_room_quota_is_refused_and_told_why_even_after_a_restart(
    config: Config, nursery: trio.Nursery
) -> None:
    config = with_config(config, rooms_per_user=3, room_creations=1000)
    first = await start_server(nursery, config)
    api = Api(first)
    alice = await api.account()

    async def create(name: str) -> None:
        codes.append(
            (await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": name})).status_code
        )

    codes: list[int] = []
    async with trio.open_nursery() as racing:  # concurrent requests cannot both take the last place
        for i in range(8):
            racing.start_soon(create, f"r{i}")
    assert sorted(codes) == [201] * 3 + [429] * 5
    r = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "more"})
    error = r.json()["error"]
    assert r.status_code == 429 and error["code"] == "rate_limited"
    assert "3 rooms" in error["message"] and "Retry-After" not in r.headers, "waiting frees no place"
    await api.http.aclose()
    first.stop.set()

    second = await start_server(nursery, config)  # the quota is counted in the database
    api = Api(second)
    r = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "after restart"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    await api.http.aclose()
    second.stop.set()

    third = await start_server(nursery, with_config(config, rate_limit_enabled=False, room_creations=1))
    api = Api(third)
    for name in ("load", "test"):  # CHAT_RATE_LIMIT=false lifts the quota and the rate alike
        r = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": name})
        assert r.status_code == 201, r.text
    await api.http.aclose()
    third.stop.set()


# --- the room list, page by page -------------------------------------------


async def _make_rooms(api: Api, owner: Account, count: int, first: int = 0) -> list[str]:
    """``count`` rooms named ``room <first>`` on: names are unique."""
    ids = []
    for i in range(first, first + count):
        r = await api.call("POST", "/api/v1/rooms", token=owner.token, json={"name": f"room {i}"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["room"]["room_id"])
    return ids


async def test_the_room_list_pages_through_every_room_once_in_creation_order(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, rate_limit_enabled=False))
    api = Api(server)
    alice = await api.account()
    made = await _make_rooms(api, alice, 120)
    r = await api.call("GET", "/api/v1/rooms", token=alice.token)
    first = r.json()
    assert len(first["rooms"]) == 50 and isinstance(first["next_cursor"], str), (
        "no parameters: the first page"
    )
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=50" + (f"&cursor={cursor}" if cursor else "")
        r = await api.call("GET", f"/api/v1/rooms{query}", token=alice.token)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["rooms"]
        pages += 1
        if pages == 1:  # a room created while paging comes last, on a later page
            made += await _make_rooms(api, alice, 1, first=len(made))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    ids = [room["room_id"] for room in seen]
    assert pages == 3 and len(ids) == len(set(ids)) == 122, "120 rooms, the lobby and the late one"
    assert set(ids) == {"lobby", *made}
    assert [(x["created_at"], x["room_id"]) for x in seen] == sorted(
        (x["created_at"], x["room_id"]) for x in seen
    )
    assert ids[-1] == made[-1]
    assert all(room["online"] == 0 for room in seen)
    r = await api.call("GET", "/api/v1/rooms?limit=200", token=alice.token)
    assert [x["room_id"] for x in r.json()["rooms"]] == ids and r.json()["next_cursor"] is None
    await api.http.aclose()
    server.stop.set()


async def test_a_bad_limit_or_cursor_on_the_room_list_is_400(api: Api) -> None:
    alice = await api.account()
    good = base64.urlsafe_b64encode(b"1700000000000:lobby").decode().rstrip("=")
    r = await api.call("GET", f"/api/v1/rooms?cursor={good}&limit=200", token=alice.token)
    assert r.status_code == 200, "a cursor past the lobby is a valid key"

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    bad = [
        "limit=0",
        "limit=201",
        "limit=x",
        "limit=-1",
        "limit=",
        "limit=1e2",
        "cursor=",
        "cursor=!!!",
        "cursor=" + base64.urlsafe_b64encode(b"1700000000000:lobby").decode(),  # padded
        "cursor=" + b64(b"no colon here"),
        "cursor=" + b64(b"01700000000000:lobby"),  # not the server's own spelling of the number
        "cursor=" + b64(b"-5:lobby"),
        "cursor=" + b64(b"17:"),
        "cursor=" + b64(b"17:" + b"x" * 65),
        "cursor=" + b64(b"17:\xff\xfe"),
        "cursor=" + "A" * 401,
    ]
    for query in bad:
        r = await api.call("GET", f"/api/v1/rooms?{query}", token=alice.token)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", query


# --- idle room actors stop, and start again on demand ------------------------


def _running(server: Server) -> set[str]:
    return {s.room_id for s in server.running.services.rooms.statistics()}


async def test_a_room_nobody_is_in_stops_after_the_idle_time_and_a_later_join_finds_its_history(
    config: Config, nursery: trio.Nursery
) -> None:
    # That a member keeps a room running however long is shown on the mock clock below.
    with SupervisionLog.attached() as supervision:  # from the start: the lobby may stop before anything else
        server = await start_server(nursery, with_config(config, room_idle_seconds=0.3))
        api, connect = Api(server), Connect(server, nursery)
        alice, bob = await api.account(), await api.account()
        created = await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "quiet"})
        room_id = created.json()["room"]["room_id"]
        a = await connect(alice, join=room_id)
        kept = await a.command({"type": "group", "room_id": room_id, "content": "kept"})
        await a.command({"type": "leave", "room_id": room_id})
        left = trio.current_time()
        with trio.fail_after(5):
            stopped = await supervision.wait_for("stopped", f"room:{room_id}")
        assert trio.current_time() - left >= 0.3
        assert "idle" in stopped.reason  # type: ignore[attr-defined]
        assert room_id not in _running(server)
        with trio.fail_after(5):
            await supervision.wait_for("stopped", "room:lobby")  # configured rooms stop too
        assert supervision.events(f"room:{room_id}") == ["started", "stopped"]
    metrics = (await api.call("GET", "/metrics")).text.splitlines()
    assert [float(x.split()[1]) for x in metrics if x.startswith("chat_rooms_running ")] == [0]

    b = await connect(bob, join=room_id)
    assert room_id in _running(server)
    r = await api.call("GET", f"/api/v1/rooms/{room_id}/messages", token=bob.token)
    assert [(m["id"], m["content"]) for m in r.json()["messages"]] == [(kept["id"], "kept")]
    again = await b.command({"type": "group", "room_id": room_id, "content": "again"})
    assert again["type"] == "ack" and again["id"] > kept["id"]
    r = await api.call("GET", f"/api/v1/rooms/{room_id}", token=bob.token)
    assert r.json()["room"]["online"] == 1
    await api.http.aclose()
    server.stop.set()


async def test_a_join_that_meets_the_room_as_it_stops_is_carried_out_by_the_room_started_again(
    config: Config, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(nursery, with_config(config, room_idle_seconds=0.2))
    api = Api(server)
    alice = await api.account()
    room_id = (await api.call("POST", "/api/v1/rooms", token=alice.token, json={"name": "racy"})).json()[
        "room"
    ]["room_id"]
    real_resolve = RoomSupervisor.resolve
    stale: list[ActorRef[Any]] = []
    with SupervisionLog.attached() as supervision:

        async def resolve_then_lose_the_race(self: RoomSupervisor, wanted: str) -> ActorRef[Any] | None:
            ref = await real_resolve(self, wanted)
            if ref is not None and not stale:
                stale.append(ref)  # the session holds the ref while the room stops under it
                with trio.fail_after(5):
                    await supervision.wait_for("stopped", f"room:{wanted}")
            return ref

        monkeypatch.setattr(RoomSupervisor, "resolve", resolve_then_lose_the_race)
        peer = await Connect(server, nursery)(alice)
        reply = await peer.command({"type": "join", "room_id": room_id})
        assert reply["type"] == "joined" and reply["users"] == [alice.user]
        assert server.running.services.rooms.get(room_id) not in (None, stale[0])
        assert supervision.events(f"room:{room_id}") == ["started", "stopped", "started"]
    ack = await peer.command({"type": "group", "room_id": room_id, "content": "still a member"})
    assert ack["type"] == "ack"
    assert (await peer.expect("group"))["content"] == "still a member"
    await api.http.aclose()
    server.stop.set()


async def test_the_online_list_of_a_room_that_stops_under_the_request_is_still_answered(
    config: Config, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(nursery, with_config(config, room_idle_seconds=0.2))
    api = Api(server)
    alice = await api.account()
    with SupervisionLog.attached() as supervision:
        since = supervision.mark()
        ref = await server.running.services.rooms.resolve("lobby")
        assert ref is not None
        with trio.fail_after(5):
            await supervision.wait_for("stopped", "room:lobby", after=since)
    real_get = RoomSupervisor.get
    handed: list[str] = []

    def stale_once(self: RoomSupervisor, room_id: str) -> ActorRef[Any] | None:
        if not handed:
            handed.append(room_id)
            return ref  # taken just before the room stopped
        return real_get(self, room_id)

    monkeypatch.setattr(RoomSupervisor, "get", stale_once)
    r = await api.call("GET", "/api/v1/rooms/lobby/online", token=alice.token)
    assert r.status_code == 200 and r.json() == {"users": []}
    assert handed == ["lobby"]
    await api.http.aclose()
    server.stop.set()


# --- the same, on Trio's mock clock: when exactly a room stops ---------------


async def _lookup(room_id: str) -> RoomInfo | None:
    return RoomInfo(room_id, room_id.title(), 0) if room_id == "r" else None


async def _rooms(nursery: trio.Nursery, log: HeldLog) -> RoomSupervisor:
    supervisor = RoomSupervisor(
        log, _lookup, RestartIntensity(3, 10), mailbox_capacity=8, delivery_capacity=8, idle_seconds=300
    )
    return await nursery.start(supervisor.run)  # type: ignore[no-any-return]


async def test_an_empty_room_stops_exactly_idle_seconds_after_its_last_member_left(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="actors.supervision")
    async with trio.open_nursery() as nursery:
        rooms = await _rooms(nursery, HeldLog())
        ref = await rooms.resolve("r")
        assert ref is not None
        alice = Member("alice")
        ref.tell_nowait(JoinRoom(alice.handle))
        await trio.sleep(10_000)
        assert rooms.get("r") is ref, "a member keeps the room running, however long"
        ref.tell_nowait(LeaveRoom(alice.handle))
        await trio.sleep(299.99)
        assert rooms.get("r") is ref
        await trio.sleep(0.02)
        assert rooms.get("r") is None and rooms.statistics() == []
        with pytest.raises(ActorGone):
            ref.tell_nowait(JoinRoom(alice.handle))
        stopped = [r for r in caplog.records if getattr(r, "event", None) == "stopped"]
        assert [(r.actor, r.reason) for r in stopped] == [("room:r", "idle: no member for 300 s")]  # type: ignore[attr-defined]

        again = await rooms.resolve("r")
        assert again is not None and again is not ref
        again.tell_nowait(JoinRoom(alice.handle))
        await trio.testing.wait_all_tasks_blocked()
        assert [f["type"] for f in alice.frames()][-1] == "joined"
        assert await again.ask(GetMembers, timeout=1) == [alice.handle.user]
        nursery.cancel_scope.cancel()


async def test_a_room_whose_last_ack_waits_for_its_commit_stops_only_once_the_ack_is_delivered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = HeldLog()
    async with trio.open_nursery() as nursery:
        rooms = await _rooms(nursery, log)
        ref = await rooms.resolve("r")
        assert ref is not None
        alice = Member("alice")
        ref.tell_nowait(JoinRoom(alice.handle))
        ref.tell_nowait(PostGroup(alice.handle, "in flight", "p1"))
        ref.tell_nowait(LeaveRoom(alice.handle))
        await trio.sleep(1000)
        assert rooms.get("r") is ref, "the ack is still owed: the room stays"
        assert "ack" not in [f["type"] for f in alice.frames()]
        log.commits[0].succeed()
        await trio.testing.wait_all_tasks_blocked()
        assert [f for f in alice.frames() if f["type"] == "ack"] == [
            {"type": "ack", "id": 1, "timestamp": 0, "ref": "p1"}
        ]
        assert rooms.get("r") is None, "owing nothing, past its idle time, it stops at once"
        nursery.cancel_scope.cancel()


async def test_a_message_told_to_a_ref_from_the_table_is_never_lost_to_a_room_that_stops(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="actors.supervision")
    async with trio.open_nursery() as nursery:
        rooms = await _rooms(nursery, HeldLog())
        told: list[Reply[list[User]]] = []
        for _ in range(20):
            await rooms.resolve("r")
            await trio.sleep_until(trio.current_time() + 300)  # wake together with the room's deadline
            ref: ActorRef[Any] | None = None
            for step in range(16):
                if step % 2 == 0:  # take the ref, as a session does before its tell ...
                    ref = rooms.get("r") or await rooms.resolve("r")
                elif step % 4 == 1:  # ... and tell it one step later, resolving again if it is gone
                    assert ref is not None
                    reply: Reply[list[User]] = Reply()
                    try:
                        ref.tell_nowait(GetMembers(reply))
                    except ActorGone:
                        ref = await rooms.resolve("r")
                        assert ref is not None
                        ref.tell_nowait(GetMembers(reply))
                    told.append(reply)
                await trio.lowlevel.checkpoint()
        for reply in told:
            with trio.fail_after(1):
                assert await reply.receive() == []
        stops = [r for r in caplog.records if getattr(r, "event", None) == "stopped"]
        assert len(stops) >= 20, "the room stopped in every round, with messages arriving around it"
        nursery.cancel_scope.cancel()
