"""A dropped connection that asked for a grace (``/ws?linger=S``) is announced as leaving only if it stays gone.

The contract's rule holds for every client that does not ask: its drop is a
``leave`` at once. One that asks (the web client does) is kept listed for
the grace; a session of the user joining meanwhile means nobody is told
anything, and otherwise exactly one ``leave`` comes when the grace ends.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from tests.conftest import Account, Api, Connect, Peer, Server, start_server, with_config
from web.config import Config


async def nothing_more(peer: Peer, kind: str, seconds: float) -> None:
    with trio.move_on_after(seconds):
        frame = await peer.expect(kind, timeout=seconds + 1)
        raise AssertionError(f"unexpected {kind}: {frame}")


async def listed(peer: Peer, room_id: str) -> list[str]:
    return [u["user_id"] for u in (await peer.command({"type": "online", "room_id": room_id}))["users"]]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Who is in a room is the room actor's memory, not the database's: SQLite only."""
    return sqlite_url


@pytest.fixture
async def graced(config: Config, nursery: trio.Nursery) -> Server:
    return await start_server(nursery, with_config(config, leave_grace=1.0))


async def dropped(server: Server, nursery: trio.Nursery, query: str) -> tuple[Api, Connect, Account, Peer]:
    """Alice's tab (``query``) was in the lobby with Bob watching, and its socket has just gone away."""
    api, connect = Api(server), Connect(server, nursery)
    alice, bob = await api.account(), await api.account()
    watcher = await connect(bob, join="lobby")
    tab = await connect(alice, join="lobby", query=query)
    await watcher.expect("system", event="join")
    await tab.ws.aclose()
    return api, connect, alice, watcher


async def test_a_drop_and_a_return_within_the_grace_tell_nobody_anything(
    graced: Server, nursery: trio.Nursery
) -> None:
    api, connect, alice, watcher = await dropped(
        graced, nursery, "&linger=30"
    )  # a reload: the page's socket goes away...
    assert alice.user_id in await listed(watcher, "lobby"), "still listed during the grace"
    await connect(alice, join="lobby", query="&linger=30")  # ...and the new page joins again
    await nothing_more(watcher, "system", 1.5)  # past the grace (capped at 1 s by the server)
    assert alice.user_id in await listed(watcher, "lobby")
    await api.http.aclose()


async def test_a_drop_that_stays_gone_is_one_leave_once_the_grace_ends(
    graced: Server, nursery: trio.Nursery
) -> None:
    api, _, alice, watcher = await dropped(graced, nursery, "&linger=0.6")
    await nothing_more(watcher, "system", 0.3)  # not before the grace ends
    left = await watcher.expect("system", timeout=10, event="leave")
    assert left["user"] == alice.user
    assert alice.user_id not in await listed(watcher, "lobby")
    await nothing_more(watcher, "system", 0.5)
    await api.http.aclose()


async def test_without_linger_a_drop_is_a_leave_at_once_and_an_explicit_leave_never_waits(
    graced: Server, nursery: trio.Nursery
) -> None:
    api, connect = Api(graced), Connect(graced, nursery)
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    watcher = await connect(bob, join="lobby")
    plain = await connect(alice, join="lobby")
    await watcher.expect("system", event="join")
    with trio.fail_after(0.9):  # before a grace of 1 s could have ended
        await plain.ws.aclose()
        assert (await watcher.expect("system", event="leave"))["user"] == alice.user
        lingering = await connect(carol, join="lobby", query="&linger=30")
        await watcher.expect("system", event="join")
        await lingering.command({"type": "leave", "room_id": "lobby"})
        assert (await watcher.expect("system", event="leave"))["user"] == carol.user
    await api.http.aclose()


@pytest.mark.parametrize("linger", ["-1", "soon", "nan", "3601"])
async def test_a_linger_that_is_not_a_number_of_seconds_is_refused_at_the_handshake(
    server: Server, linger: str
) -> None:
    api = Api(server)
    alice = await api.account()
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{server.http}/ws",
            params={"token": alice.token, "linger": linger},
            headers={
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    await api.http.aclose()
