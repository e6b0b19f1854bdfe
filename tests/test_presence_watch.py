"""Presence subscriptions: a session watches users and hears when they come online or go offline.

Over real sockets against a real server. ``watch`` is answered by the
registry after every message it took before, and the ``presence`` frames it
pushes go into the same outbox: a ``watch`` sent again is the way to check
that nothing was pushed before it (the next frame is its ``watching``).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tests.conftest import Account, Api, Connect, Peer, Server, start_server, with_config
from tests.test_metrics import scrape, value
from web.config import Config
from wire.presence import MAX_WATCHED


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Who is online is the registry's memory, not the database's: SQLite only."""
    return sqlite_url


async def watch(peer: Peer, *accounts: Account | str) -> list[str]:
    """Watch exactly these users; the ids of those the answer says are online, sorted."""
    ids = [a if isinstance(a, str) else a.user_id for a in accounts]
    reply = await peer.command({"type": "watch", "user_ids": ids})
    assert reply["type"] == "watching", reply
    return sorted(u["user_id"] for u in reply["online"])


async def watch_again(peer: Peer, *accounts: Account) -> list[str]:
    """Watch the same users again: its answer must be the very next frame (nothing was pushed before it)."""
    ids = [a.user_id for a in accounts]
    await peer.send({"type": "watch", "user_ids": ids, "ref": "again"})
    frame = await peer.recv()
    assert frame["type"] == "watching" and frame["ref"] == "again", f"pushed before the answer: {frame}"
    return sorted(u["user_id"] for u in frame["online"])


async def registered(peer: Peer) -> None:
    """The registry has taken this session's registration (a command it answers comes after it)."""
    assert (await peer.command({"type": "online"}))["type"] == "online"


async def sessions_settle(api: Api, count: int) -> dict[str, float]:
    """Wait until the registry holds ``count`` sessions (a closed socket's unregistration is not otherwise seen)."""
    with trio.fail_after(5):
        while True:
            families = await scrape(api.http)
            if value(families, "chat_sessions") == count:
                return {
                    name: value(families, name)
                    for name in ("chat_presence_watching_sessions", "chat_presence_watched_users")
                }
            await trio.sleep(0.02)


def presence_of(frame: dict[str, Any]) -> tuple[str, bool]:
    assert frame["type"] == "presence", frame
    return frame["user"]["user_id"], frame["online"]


async def test_watch_answers_who_of_the_watched_users_is_online(api: Api, connect: Connect) -> None:
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    watcher = await connect(alice)
    await registered(await connect(bob))
    online = await watch(watcher, alice, bob, carol, "no-such-user")
    assert online == sorted([alice.user_id, bob.user_id])
    reply = await watcher.command({"type": "watch", "user_ids": [bob.user_id]})
    assert reply["online"] == [bob.user], reply


async def test_coming_online_and_going_offline_are_pushed_once_and_a_second_session_pushes_nothing(
    api: Api, connect: Connect
) -> None:
    alice, bob = await api.account(), await api.account()
    watcher = await connect(alice)
    assert await watch(watcher, bob) == []

    first = await connect(bob)
    assert presence_of(await watcher.recv()) == (bob.user_id, True)
    second = await connect(bob)
    await registered(second)
    assert await watch_again(watcher, bob) == [bob.user_id]

    await second.ws.aclose()
    await sessions_settle(api, 2)
    assert await watch_again(watcher, bob) == [bob.user_id]

    await first.ws.aclose()
    assert presence_of(await watcher.recv()) == (bob.user_id, False)
    await sessions_settle(api, 1)
    assert await watch_again(watcher, bob) == []


async def test_an_empty_watch_stops_the_pushes(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    watcher = await connect(alice)
    await watch(watcher, bob)
    assert await watch(watcher) == []
    await registered(await connect(bob))
    assert await watch_again(watcher) == []


async def test_a_watch_of_more_users_than_the_bound_is_refused_with_bad_request(
    api: Api, connect: Connect
) -> None:
    alice = await api.account()
    watcher = await connect(alice)
    ids = [f"user-{i}" for i in range(MAX_WATCHED + 1)]
    reply = await watcher.command({"type": "watch", "user_ids": ids})
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    assert str(MAX_WATCHED) in reply["message"]
    for bad in ("bob", ["x" * 65], [""], [1]):
        reply = await watcher.command({"type": "watch", "user_ids": bad})
        assert reply["code"] == "bad_request", reply
    assert await watch(watcher, *ids[:MAX_WATCHED]) == []


async def test_a_blocker_is_never_shown_online_to_the_user_they_block_even_when_it_changes_while_watching(
    api: Api, connect: Connect
) -> None:
    alice, bob = await api.account(), await api.account()
    bob_tab = await connect(bob)
    assert (await bob_tab.command({"type": "block", "user_id": alice.user_id}))["blocked"] is True
    watcher = await connect(alice)
    assert await watch(watcher, bob) == []

    await bob_tab.ws.aclose()
    await sessions_settle(api, 1)
    bob_tab = await connect(bob)
    await registered(bob_tab)
    assert await watch_again(watcher, bob) == []  # neither the going nor the coming was shown

    await bob_tab.command({"type": "unblock", "user_id": alice.user_id})
    assert presence_of(await watcher.recv()) == (bob.user_id, True)
    await bob_tab.command({"type": "block", "user_id": alice.user_id})
    assert presence_of(await watcher.recv()) == (bob.user_id, False)
    assert await watch_again(watcher, bob) == []

    # Over HTTP too, and an unblock of a user who is offline shows nothing.
    r = await api.call("DELETE", f"/api/v1/blocks/{alice.user_id}", token=bob.token)
    assert r.status_code == 204
    assert presence_of(await watcher.recv()) == (bob.user_id, True)
    await bob_tab.ws.aclose()
    assert presence_of(await watcher.recv()) == (bob.user_id, False)


async def test_a_session_that_ends_leaves_nothing_behind_in_the_watchers_index(
    api: Api, connect: Connect
) -> None:
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    watcher = await connect(alice)
    other = await connect(carol)
    await watch(watcher, bob, carol)
    await watch(other, bob)
    held = await sessions_settle(api, 2)
    assert held == {"chat_presence_watching_sessions": 2, "chat_presence_watched_users": 2}
    await watch(other, carol)  # a new set replaces the old one
    held = await sessions_settle(api, 2)
    assert held == {"chat_presence_watching_sessions": 2, "chat_presence_watched_users": 2}
    await watcher.ws.aclose()
    held = await sessions_settle(api, 1)
    assert held == {"chat_presence_watching_sessions": 1, "chat_presence_watched_users": 1}
    await other.ws.aclose()
    held = await sessions_settle(api, 0)
    assert held == {"chat_presence_watching_sessions": 0, "chat_presence_watched_users": 0}


@pytest.fixture
async def graced(config: Config, nursery: trio.Nursery) -> Server:
    return await start_server(nursery, with_config(config, leave_grace=1.0))


async def test_a_drop_within_the_grace_shows_the_watchers_nothing_and_one_that_stays_gone_one_offline(
    graced: Server, nursery: trio.Nursery
) -> None:
    api, connect = Api(graced), Connect(graced, nursery)
    alice, bob = await api.account(), await api.account()
    watcher = await connect(alice)
    tab = await connect(bob, query="&linger=30")  # capped at the server's 1 s
    await registered(tab)
    assert await watch(watcher, bob) == [bob.user_id]

    await tab.ws.aclose()  # a reload: the page's socket goes away...
    await sessions_settle(api, 1)
    assert await watch_again(watcher, bob) == [bob.user_id]  # still online to watchers during the grace
    tab = await connect(bob, query="&linger=30")  # ...and the new page is back within it
    await registered(tab)
    with trio.move_on_after(1.5):  # past the grace
        frame = await watcher.recv(timeout=3)
        raise AssertionError(f"pushed: {frame}")

    await tab.ws.aclose()
    started = trio.current_time()
    assert presence_of(await watcher.recv(timeout=5)) == (bob.user_id, False)
    assert trio.current_time() - started >= 0.9, "offline came before the grace ran out"
    await api.http.aclose()
