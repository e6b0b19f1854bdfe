"""Presence subscriptions in the cluster mode: a user coming or going on one process reaches watchers on another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from cluster.node import REAP_EVERY
from tests.cluster import ON_MARIADB, StartCluster
from tests.conftest import Api, Connect, open_ws, start_server
from tests.test_cluster import Pair, cluster_config, pair, until_online
from tests.test_cluster_processes import AFTER_A_DEATH, Session, account, online, session

pytestmark = pytest.mark.cluster
__all__ = ["pair"]  # the fixture, shared with test_cluster.py


def presence_of(frame: dict[str, Any]) -> tuple[str, bool]:
    assert frame["type"] == "presence", frame
    return frame["user"]["user_id"], frame["online"]


async def test_coming_online_on_one_process_reaches_a_watcher_on_the_other_once(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    watcher = await pair.connect_a(alice)
    reply = await watcher.command({"type": "watch", "user_ids": [bob.user_id, alice.user_id]})
    assert reply["online"] == [alice.user]

    first = await pair.connect_b(bob)
    assert presence_of(await watcher.recv(timeout=10)) == (bob.user_id, True)
    second = await pair.connect_a(bob)  # a second session, on the watcher's process: nothing new
    await until_online(second, bob.user_id)
    await first.ws.aclose()
    await second.ws.aclose()
    assert presence_of(await watcher.recv(timeout=10)) == (bob.user_id, False)

    # A process that watches a user nobody watched there before reads their state from Redis.
    carol = await pair.api_b.account()
    bob_again = await pair.connect_b(bob)
    await until_online(bob_again, bob.user_id)
    other = await pair.connect_a(carol)
    assert (await other.command({"type": "watch", "user_ids": [bob.user_id]}))["online"] == [bob.user]
    assert presence_of(await watcher.recv(timeout=10)) == (bob.user_id, True)


async def test_a_block_on_one_process_hides_the_blocker_from_a_watcher_on_the_other(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    bob_b = await pair.connect_b(bob)
    watcher = await pair.connect_a(alice)
    await until_online(watcher, bob.user_id)
    assert (await watcher.command({"type": "watch", "user_ids": [bob.user_id]}))["online"] == [bob.user]
    await bob_b.command({"type": "block", "user_id": alice.user_id})
    assert presence_of(await watcher.recv(timeout=10)) == (bob.user_id, False)
    await bob_b.command({"type": "unblock", "user_id": alice.user_id})
    assert presence_of(await watcher.recv(timeout=10)) == (bob.user_id, True)


async def test_a_reload_that_lands_on_the_other_process_within_the_grace_shows_watchers_nothing(
    tmp_path: Path, cluster_db_url: str, redis_url: str, nursery: trio.Nursery
) -> None:
    shared = cluster_config(tmp_path, cluster_db_url, redis_url, leave_grace=1.0)
    a, b = await start_server(nursery, shared), await start_server(nursery, shared)
    api = Api(a)
    alice, bob = await api.account(), await api.account()
    watcher = await Connect(b, nursery)(bob)
    tab = await Connect(a, nursery)(alice, query="&linger=30")
    await until_online(watcher, alice.user_id)
    assert (await watcher.command({"type": "watch", "user_ids": [alice.user_id]}))["online"] == [alice.user]
    await tab.ws.aclose()
    back = await Connect(b, nursery)(alice, query="&linger=30")
    await until_online(watcher, alice.user_id)
    with trio.move_on_after(1.5):  # past the grace
        frame = await watcher.recv(timeout=3)
        raise AssertionError(f"pushed: {frame}")
    await back.ws.aclose()
    started = trio.current_time()
    assert presence_of(await watcher.recv(timeout=10)) == (alice.user_id, False)
    assert trio.current_time() - started >= 0.9, "offline came before the grace ran out"
    await api.http.aclose()


@ON_MARIADB
async def test_the_users_of_a_killed_process_go_offline_for_watchers_on_the_others(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(2)
    carol, bob, dave = [await account(cluster) for _ in range(3)]
    p0, p1 = cluster.nodes[0].ws_url, cluster.nodes[1].ws_url
    watcher = await session(nursery, p0, carol, join=())
    await session(nursery, p1, bob, join=())
    await session(nursery, p1, dave, join=())
    await session(nursery, p0, dave, join=())  # dave has a session elsewhere: he stays
    with trio.fail_after(10):
        while sorted(await online(watcher)) != sorted([bob.user_id, carol.user_id, dave.user_id]):
            await trio.sleep(0.05)
    reply = await watcher.command({"type": "watch", "user_ids": [bob.user_id, dave.user_id]})
    assert sorted(u["user_id"] for u in reply["online"]) == sorted([bob.user_id, dave.user_id])
    await cluster.kill(1)
    assert presence_of(await watcher.expect("presence", timeout=AFTER_A_DEATH)) == (bob.user_id, False)
    with trio.move_on_after(REAP_EVERY * 2):  # the survivor looks for the dead again: nothing more
        frame = await watcher.expect("presence", timeout=REAP_EVERY * 3)
        raise AssertionError(f"pushed: {frame}")


@ON_MARIADB
async def test_a_grace_whose_process_was_killed_ends_on_another_process(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(2)
    carol, bob = await account(cluster), await account(cluster)
    watcher = await session(nursery, cluster.nodes[0].ws_url, carol, join=())
    tab = Session(await open_ws(nursery, f"{cluster.nodes[1].ws_url}?token={bob.token}&linger=1"))
    with trio.fail_after(10):
        while bob.user_id not in await online(watcher):
            await trio.sleep(0.05)
    assert (await watcher.command({"type": "watch", "user_ids": [bob.user_id]}))["online"] == [bob.user]
    await tab.ws.aclose()
    with trio.fail_after(10):  # counted out, his grace running on the process about to die
        while bob.user_id in await online(watcher):
            await trio.sleep(0.05)
    await cluster.kill(1)
    assert presence_of(await watcher.expect("presence", timeout=AFTER_A_DEATH)) == (bob.user_id, False)
