"""Typing notices: a member's ``typing`` reaches the room's other sessions, is never stored, and is rate limited.

Who is typing is the room actor's memory, not the database's: SQLite only.
"""

from __future__ import annotations

import pytest
import trio

from tests.conftest import Api, Connect, Peer, Server


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Typing touches no storage: SQLite only."""
    return sqlite_url


async def nothing_more(peer: Peer, kind: str, seconds: float) -> None:
    with trio.move_on_after(seconds):
        frame = await peer.expect(kind, timeout=seconds + 1)
        raise AssertionError(f"unexpected {kind}: {frame}")


async def test_typing_reaches_the_other_sessions_of_the_room_once_per_interval(
    server: Server, connect: Connect
) -> None:
    api = Api(server)
    alice, bob = await api.account(), await api.account()
    typist = await connect(alice, join="lobby")
    other_tab = await connect(alice, join="lobby")
    reader = await connect(bob, join="lobby")
    for _ in range(5):  # a burst of keystrokes: one notice passes
        await typist.send({"type": "typing", "room_id": "lobby"})
    for peer in (reader, other_tab):
        notice = await peer.expect("typing")
        assert notice["room_id"] == "lobby" and notice["user"] == alice.user
        assert notice["expires_in_ms"] > 0
        await nothing_more(peer, "typing", 0.5)
    await nothing_more(typist, "typing", 0.1)  # never to the session that types
    history = await api.call("GET", "/api/v1/rooms/lobby/messages", token=bob.token)
    assert history.json()["messages"] == [], "nothing is stored"
    await api.http.aclose()


async def test_typing_outside_a_room_one_has_joined_is_refused(server: Server, connect: Connect) -> None:
    api = Api(server)
    alice = await api.account()
    peer = await connect(alice)
    refused = await peer.command({"type": "typing", "room_id": "lobby"})
    assert (refused["type"], refused["code"]) == ("error", "not_in_room")
    unknown = await peer.command({"type": "typing", "room_id": "nowhere"})
    assert (unknown["type"], unknown["code"]) == ("error", "room_not_found")
    malformed = await peer.command({"type": "typing"})
    assert (malformed["type"], malformed["code"]) == ("error", "bad_request")
    await api.http.aclose()


async def test_typing_to_a_peer_reaches_only_their_sessions_and_a_block_stops_it_silently(
    server: Server, connect: Connect
) -> None:
    api = Api(server)
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    typist = await connect(alice)
    phone, laptop = await connect(bob), await connect(bob)
    bystander = await connect(carol)
    await typist.send({"type": "typing", "peer_id": bob.user_id})
    for peer in (phone, laptop):
        notice = await peer.expect("typing")
        assert (notice["peer_id"], notice["user"]) == (alice.user_id, alice.user)
    await nothing_more(bystander, "typing", 0.3)
    blocked = await phone.command({"type": "block", "user_id": alice.user_id})
    assert blocked["blocked"] is True
    other_tab = await connect(alice)  # a session of its own: the rate would not stop it
    await other_tab.send({"type": "typing", "peer_id": bob.user_id})
    await nothing_more(laptop, "typing", 0.5)  # the block did
    unknown = await typist.command({"type": "typing", "peer_id": "nobody"})
    assert (unknown["type"], unknown["code"]) == ("error", "user_not_found")
    both = await typist.command({"type": "typing", "peer_id": bob.user_id, "room_id": "lobby"})
    assert (both["type"], both["code"]) == ("error", "bad_request")
    await api.http.aclose()
