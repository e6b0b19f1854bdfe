"""A block in the cluster mode: it holds on the sender's process, whichever process the blocker used."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tests.conftest import Peer
from tests.test_cluster import Pair, pair, until_online

pytestmark = pytest.mark.cluster
__all__ = ["pair"]  # the fixture, shared with test_cluster.py


def ids(frame: dict[str, Any]) -> set[str]:
    return {u["user_id"] for u in frame["users"]}


async def until_listed(peer: Peer, user_id: str, *, listed: bool) -> None:
    """Until ``user_id`` is (or is not) in the peer's site-wide online list: the other process hears on its own time."""
    with trio.fail_after(10):
        while (user_id in ids(await peer.command({"type": "online"}))) != listed:
            await trio.sleep(0.02)


async def test_a_block_holds_when_the_sender_and_the_blocker_are_on_different_processes(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    alice_a = await pair.connect_a(alice)
    bob_b = await pair.connect_b(bob)
    await until_online(bob_b, alice.user_id)  # and bob's relations are in process b's memory now
    hello = await bob_b.command({"type": "private", "target_id": alice.user_id, "content": "hello"})
    assert hello["type"] == "ack" and hello["delivered"] is True
    assert (await alice_a.expect("private", timeout=10))["content"] == "hello"
    reply = await alice_a.command({"type": "block", "user_id": bob.user_id})
    assert reply["type"] == "block_changed" and reply["blocked"] is True
    await until_listed(bob_b, alice.user_id, listed=False)  # process b has dropped what it held of bob
    refused = await bob_b.command({"type": "private", "target_id": alice.user_id, "content": "let me in"})
    assert (refused["type"], refused["code"]) == ("error", "blocked"), refused
    answer = await pair.api_b.call("GET", f"/api/v1/private/{bob.user_id}/messages", token=alice.token)
    assert [m["content"] for m in answer.json()["messages"]] == ["hello"]
    # Unblocked on process a: process b lets bob write again.
    await alice_a.command({"type": "unblock", "user_id": bob.user_id})
    await until_listed(bob_b, alice.user_id, listed=True)
    again = await bob_b.command({"type": "private", "target_id": alice.user_id, "content": "again"})
    assert again["type"] == "ack"
    assert (await alice_a.expect("private", timeout=10))["content"] == "again"
