"""Read markers: ``read`` over the WebSocket, ``read_marker`` to the other sessions, unread counts over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from actors.read_markers import ReadMarkers
from storage.reads import UNREAD_CAP
from tests.conftest import Account, Api, Connect, Peer, start_server, with_config
from web.config import Config


async def post(peer: Peer, room_id: str, content: str) -> int:
    ack = await peer.command({"type": "group", "room_id": room_id, "content": content})
    assert ack["type"] == "ack", ack
    return int(ack["id"])


async def whisper(peer: Peer, target: Account, content: str) -> int:
    ack = await peer.command({"type": "private", "target_id": target.user_id, "content": content})
    assert ack["type"] == "ack", ack
    return int(ack["id"])


async def unread(api: Api, who: Account, **query: str) -> dict[str, Any]:
    answer = await api.call("GET", "/api/v1/unread", token=who.token, params=query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_room_is_marked_read_and_the_marker_never_moves_back(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    first = await post(a, "lobby", "one")
    second = await post(a, "lobby", "two")
    reply = await b.command({"type": "read", "room_id": "lobby", "up_to": second})
    assert reply == {"type": "read_marker", "room_id": "lobby", "up_to": second, "ref": reply["ref"]}
    back = await b.command({"type": "read", "room_id": "lobby", "up_to": first})
    assert back["type"] == "read_marker" and back["up_to"] == second, "a lower id changes nothing"
    counts = await unread(api, bob, rooms="lobby")
    assert counts["rooms"] == [{"room_id": "lobby", "last_read": second, "unread": 0}]


async def test_unread_counts_follow_messages_and_marks(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    start = await post(a, "lobby", "before")
    await b.command({"type": "read", "room_id": "lobby", "up_to": start})
    ids = [await post(a, "lobby", f"m{i}") for i in range(3)]
    pm = [await whisper(a, bob, f"p{i}") for i in range(2)]
    counts = await unread(api, bob, rooms="lobby", peers=alice.user_id)
    assert counts["rooms"] == [{"room_id": "lobby", "last_read": start, "unread": 3}]
    assert counts["conversations"] == [{"peer_id": alice.user_id, "last_read": 0, "unread": 2}]
    await b.command({"type": "read", "room_id": "lobby", "up_to": ids[1]})
    await b.command({"type": "read", "peer_id": alice.user_id, "up_to": pm[0]})
    counts = await unread(api, bob, rooms="lobby", peers=alice.user_id)
    assert counts["rooms"][0]["unread"] == 1
    assert counts["conversations"][0] == {"peer_id": alice.user_id, "last_read": pm[0], "unread": 1}
    # Without parameters: the rooms the user has a marker in.
    assert (await unread(api, bob))["rooms"] == [{"room_id": "lobby", "last_read": ids[1], "unread": 1}]
    # The sender's own private messages are read by sending them.
    mine = await unread(api, alice, peers=bob.user_id)
    assert mine["conversations"] == [{"peer_id": bob.user_id, "last_read": pm[-1], "unread": 0}]


async def test_another_session_of_the_same_user_gets_the_read_marker(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    phone = await connect(bob)
    desk = await connect(bob, join="lobby")
    newest = await post(a, "lobby", "hello")
    pm = await whisper(a, bob, "psst")
    await desk.command({"type": "read", "room_id": "lobby", "up_to": newest})
    assert await phone.expect("read_marker") == {"type": "read_marker", "room_id": "lobby", "up_to": newest}
    await desk.command({"type": "read", "peer_id": alice.user_id, "up_to": pm})
    assert await phone.expect("read_marker") == {"type": "read_marker", "peer_id": alice.user_id, "up_to": pm}
    # A mark that moves nothing is answered, and tells nobody.
    await desk.command({"type": "read", "room_id": "lobby", "up_to": newest})
    pong = await phone.command({"type": "ping"})
    assert pong["type"] == "pong"


async def test_an_id_beyond_the_newest_message_is_clamped_to_it(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    newest = await post(a, "lobby", "last one so far")
    reply = await b.command({"type": "read", "room_id": "lobby", "up_to": newest + 1000})
    assert reply["up_to"] == newest
    later = await post(a, "lobby", "a later one is unread")
    assert later > newest
    assert (await unread(api, bob, rooms="lobby"))["rooms"][0]["unread"] == 1
    # Nothing to read yet in a conversation: the marker stays at 0.
    none = await b.command({"type": "read", "peer_id": alice.user_id, "up_to": 5})
    assert none == {"type": "read_marker", "peer_id": alice.user_id, "up_to": 0, "ref": none["ref"]}


async def test_bad_read_commands_are_refused_with_documented_codes(api: Api, connect: Connect) -> None:
    bob = await api.account()
    b = await connect(bob)
    refusals = [
        ({"type": "read", "room_id": "nowhere", "up_to": 1}, "room_not_found"),
        ({"type": "read", "peer_id": "0000000000000000", "up_to": 1}, "user_not_found"),
        ({"type": "read", "room_id": "lobby", "up_to": "12"}, "bad_request"),
        ({"type": "read", "room_id": "lobby", "up_to": 1.5}, "bad_request"),
        ({"type": "read", "room_id": "lobby", "up_to": -1}, "bad_request"),
        ({"type": "read", "room_id": "lobby"}, "bad_request"),
        ({"type": "read", "up_to": 1}, "bad_request"),
        ({"type": "read", "room_id": "lobby", "peer_id": bob.user_id, "up_to": 1}, "bad_request"),
    ]
    for command, code in refusals:
        reply = await b.command(command)
        assert (reply["type"], reply.get("code")) == ("error", code), (command, reply)


async def test_unread_refuses_overlong_lists(api: Api) -> None:
    bob = await api.account()
    too_many = ",".join(f"r{i}" for i in range(101))
    for query in ({"rooms": too_many}, {"rooms": "a,,b"}, {"peers": "x" * 65}):
        answer = await api.call("GET", "/api/v1/unread", token=bob.token, params=query)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request", query


async def test_counts_stop_at_the_cap(nursery: trio.Nursery, config: Config) -> None:
    server = await start_server(nursery, with_config(config, rate_limit_enabled=False))  # 105 frames at once
    api = Api(server)
    alice, bob = await api.account(), await api.account()
    a = await Connect(server, nursery)(alice)
    for i in range(UNREAD_CAP + 5):
        await whisper(a, bob, f"n{i}")
    counts = await unread(api, bob, peers=alice.user_id)
    assert counts["conversations"][0]["unread"] == UNREAD_CAP
    await api.http.aclose()
    server.stop.set()


@dataclass
class CountingStore:
    """A store in memory that counts its writes: the actor's coalescing, without a database."""

    newest: int = 1_000
    rooms: dict[tuple[str, str], int] = field(default_factory=dict)
    writes: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class State:
        newest: int
        marker: int

    async def room_state(self, user_id: str, room_id: str) -> CountingStore.State | None:
        return self.State(self.newest, self.rooms.get((user_id, room_id), 0))

    async def peer_state(self, user_id: str, peer_id: str) -> CountingStore.State:
        return self.State(0, 0)

    async def write_markers(
        self, rooms: dict[tuple[str, str], int], peers: dict[tuple[str, str], int]
    ) -> None:
        self.writes.append(len(rooms) + len(peers))
        for key, up_to in rooms.items():
            self.rooms[key] = max(self.rooms.get(key, 0), up_to)


async def test_a_flood_of_reads_is_written_once_per_interval(autojump_clock: trio.testing.MockClock) -> None:
    store = CountingStore()
    markers = ReadMarkers(store, flush_interval=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(markers.run)
        for up_to in range(1, 501):  # a client marking with every frame it sends
            assert (await markers.mark_room("u", "lobby", up_to)).up_to == up_to
        assert markers.pending_rooms("u") == {"lobby": 500}
        await trio.sleep(1.5)
        assert store.writes == [1] and store.rooms == {("u", "lobby"): 500}
        marked = await markers.mark_room("u", "lobby", 10)
        assert (marked.up_to, marked.moved) == (500, False)
        await trio.sleep(5)
        assert store.writes == [1], "a mark that moves nothing writes nothing"
        nursery.cancel_scope.cancel()


@dataclass
class SlowStore(CountingStore):
    """A store whose writes wait until the test lets them through."""

    release: trio.Event = field(default_factory=trio.Event)

    async def write_markers(
        self, rooms: dict[tuple[str, str], int], peers: dict[tuple[str, str], int]
    ) -> None:
        await self.release.wait()
        await super().write_markers(rooms, peers)


async def test_a_marker_being_written_still_counts_until_it_is_stored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Between the flush taking the markers and the store having them, readers must not see them vanish."""
    store = SlowStore()
    markers = ReadMarkers(store, flush_interval=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(markers.run)
        await markers.mark_room("u", "lobby", 7)
        await trio.sleep(1.5)  # the flush has taken it and waits on the store
        assert store.writes == []
        assert markers.pending_rooms("u") == {"lobby": 7}, "an unread count now would count it read"
        again = await markers.mark_room("u", "lobby", 5)
        assert (again.up_to, again.moved) == (7, False)
        store.release.set()
        await trio.sleep(0.1)
        assert store.rooms == {("u", "lobby"): 7}
        assert markers.pending_rooms("u") == {}
        nursery.cancel_scope.cancel()
