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
