"""Block lists: private messages refused both ways and stored nowhere, the blocker hidden, HTTP and WebSocket.

The tests over sockets run on SQLite and, through the ``db_url`` fixture's
parameters, on MariaDB (``mariadb`` marker) and PostgreSQL (``postgres``).
"""

from __future__ import annotations

from typing import Any

import trio

from actors.block_lists import BlockCache, Relations
from tests.conftest import Account, Api, Connect, Peer, start_server, with_config
from web.config import Config

UNKNOWN = "0000000000000000"


def ids(frame: dict[str, Any]) -> set[str]:
    return {u["user_id"] for u in frame["users"]}


async def private(peer: Peer, target: Account, content: str) -> dict[str, Any]:
    return await peer.command({"type": "private", "target_id": target.user_id, "content": content})


async def history(api: Api, who: Account, peer: Account) -> list[str]:
    answer = await api.call("GET", f"/api/v1/private/{peer.user_id}/messages", token=who.token)
    assert answer.status_code == 200, answer.text
    return [m["content"] for m in answer.json()["messages"]]


async def test_a_blocked_users_private_message_is_refused_and_stored_nowhere_until_unblocked(
    api: Api, connect: Connect
) -> None:
    alice, bob = await api.account(), await api.account()
    a, b = await connect(alice), await connect(bob)
    before = await private(b, alice, "before the block")  # bob's relations are in memory from here
    assert before["type"] == "ack"
    assert (await a.expect("private"))["id"] == before["id"]
    reply = await a.command({"type": "block", "user_id": bob.user_id})
    assert reply == {"type": "block_changed", "user": bob.user, "blocked": True, "ref": reply["ref"]}
    refused = await private(b, alice, "let me in")
    assert (refused["type"], refused["code"]) == ("error", "blocked"), refused
    assert refused["message"] == "this user does not accept private messages from you"
    mine = await private(a, bob, "and back?")  # a block stops both directions
    assert (mine["type"], mine["code"]) == ("error", "blocked") and "unblock" in mine["message"], mine
    for who, peer in ((alice, bob), (bob, alice)):
        assert await history(api, who, peer) == ["before the block"]
    conversations = await api.call("GET", "/api/v1/conversations", token=alice.token)
    assert conversations.json()["conversations"][0]["last_message"]["id"] == before["id"]
    # Unblocking (over HTTP here) restores delivery; alice's socket had nothing in between.
    gone = await api.call("DELETE", f"/api/v1/blocks/{bob.user_id}", token=alice.token)
    assert gone.status_code == 204
    after = await private(b, alice, "after")
    assert after["type"] == "ack" and after["delivered"] is True
    assert (await a.expect("private"))["content"] == "after"
    assert await history(api, alice, bob) == ["before the block", "after"]


async def test_the_blocker_is_hidden_from_the_blocked_users_site_wide_online_list_only(
    api: Api, connect: Connect
) -> None:
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    b = await connect(bob, join="lobby")
    c = await connect(carol)
    assert alice.user_id in ids(await b.command({"type": "online"}))
    await a.command({"type": "block", "user_id": bob.user_id})
    assert alice.user_id not in ids(await b.command({"type": "online"}))
    over_http = await api.call("GET", "/api/v1/online", token=bob.token)
    assert alice.user_id not in ids(over_http.json()) and bob.user_id in ids(over_http.json())
    assert alice.user_id in ids(await c.command({"type": "online"})), "others still see her"
    assert bob.user_id in ids(await a.command({"type": "online"})), "the blocker still sees him"
    # A room's online list is the room's, public to its members: unchanged.
    assert alice.user_id in ids(await b.command({"type": "online", "room_id": "lobby"}))
    room = await api.call("GET", "/api/v1/rooms/lobby/online", token=bob.token)
    assert alice.user_id in ids(room.json())
    await a.command({"type": "unblock", "user_id": bob.user_id})
    assert alice.user_id in ids(await b.command({"type": "online"}))


async def test_http_and_websocket_manage_one_list_and_the_users_other_sessions_hear_each_change(
    api: Api, connect: Connect
) -> None:
    alice, bob, carol = await api.account(), await api.account(), await api.account()
    desk, phone, b = await connect(alice), await connect(alice), await connect(bob)
    reply = await desk.command({"type": "block", "user_id": bob.user_id})
    assert reply["type"] == "block_changed" and reply["blocked"] is True
    assert await phone.expect("block_changed") == {"type": "block_changed", "user": bob.user, "blocked": True}
    await b.send({"type": "ping"})
    assert (await b.recv())["type"] == "pong", "the blocked user is told nothing"
    put = await api.call("PUT", f"/api/v1/blocks/{carol.user_id}", token=alice.token)
    assert put.status_code == 200, put.text
    since = put.json()["block"]["since"]
    assert put.json() == {"block": {"user": carol.user, "since": since}}
    for session in (desk, phone):
        assert await session.expect("block_changed") == {
            "type": "block_changed",
            "user": carol.user,
            "blocked": True,
        }
    first = await api.call("GET", "/api/v1/blocks", token=alice.token, params={"limit": 1})
    assert [e["user"] for e in first.json()["blocks"]] == [bob.user]
    rest = await api.call(
        "GET", "/api/v1/blocks", token=alice.token, params={"limit": 1, "cursor": first.json()["next_cursor"]}
    )
    assert rest.json() == {"blocks": [{"user": carol.user, "since": since}], "next_cursor": None}
    # Doing what is done already answers the list as it stands and tells nobody.
    again = await desk.command({"type": "block", "user_id": bob.user_id})
    assert again["blocked"] is True
    assert (await api.call("PUT", f"/api/v1/blocks/{carol.user_id}", token=alice.token)).json()["block"][
        "since"
    ] == since
    assert (await api.call("DELETE", f"/api/v1/blocks/{bob.user_id}", token=alice.token)).status_code == 204
    assert await phone.expect("block_changed") == {
        "type": "block_changed",
        "user": bob.user,
        "blocked": False,
    }
    unblocked = await phone.command({"type": "unblock", "user_id": carol.user_id})
    assert unblocked == {
        "type": "block_changed",
        "user": carol.user,
        "blocked": False,
        "ref": unblocked["ref"],
    }
    assert (await desk.expect("block_changed"))["user"] == bob.user
    assert await desk.expect("block_changed") == {
        "type": "block_changed",
        "user": carol.user,
        "blocked": False,
    }
    assert (await api.call("GET", "/api/v1/blocks", token=alice.token)).json() == {
        "blocks": [],
        "next_cursor": None,
    }
    assert (await api.call("DELETE", f"/api/v1/blocks/{carol.user_id}", token=alice.token)).status_code == 204


async def test_refusals_and_the_limit_have_documented_codes(nursery: trio.Nursery, config: Config) -> None:
    server = await start_server(nursery, with_config(config, blocks_per_user=2))
    api = Api(server)
    alice, b1, b2, b3 = [await api.account() for _ in range(4)]
    a = await Connect(server, nursery)(alice)
    refusals = [
        ({"type": "block", "user_id": alice.user_id}, "forbidden"),
        ({"type": "unblock", "user_id": alice.user_id}, "forbidden"),
        ({"type": "block", "user_id": UNKNOWN}, "user_not_found"),
        ({"type": "unblock", "user_id": UNKNOWN}, "user_not_found"),
        ({"type": "block"}, "bad_request"),
        ({"type": "unblock", "user_id": 5}, "bad_request"),
        ({"type": "private", "target_id": UNKNOWN, "content": "hi"}, "user_not_found"),
    ]
    for command, code in refusals:
        reply = await a.command(command)
        assert (reply["type"], reply.get("code")) == ("error", code), (command, reply)
    for blocked in (b1, b2):
        assert (await a.command({"type": "block", "user_id": blocked.user_id}))["blocked"] is True
    full = await a.command({"type": "block", "user_id": b3.user_id})
    assert (full["type"], full["code"]) == ("error", "block_limit"), full
    answers = {
        ("PUT", b3.user_id): (409, "block_limit"),
        ("PUT", alice.user_id): (403, "forbidden"),
        ("PUT", UNKNOWN): (404, "user_not_found"),
        ("DELETE", UNKNOWN): (404, "user_not_found"),
        ("DELETE", alice.user_id): (403, "forbidden"),
    }
    for (method, user_id), (status, code) in answers.items():
        answer = await api.call(method, f"/api/v1/blocks/{user_id}", token=alice.token)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (method, user_id)
    bad_cursor = await api.call("GET", "/api/v1/blocks", token=alice.token, params={"cursor": "nope"})
    assert bad_cursor.status_code == 400
    # The limit counts the list as it stands.
    await a.command({"type": "unblock", "user_id": b1.user_id})
    assert (await a.command({"type": "block", "user_id": b3.user_id}))["blocked"] is True
    await api.http.aclose()
    server.stop.set()


def test_relations_read_while_a_change_arrives_are_not_kept() -> None:
    cache = BlockCache()
    read = Relations(frozenset({"v"}))
    assert not cache.keep("u", read, cache.ticket("u")), "nothing is kept for a user with no session here"
    cache.present("u")
    ticket = cache.ticket("u")
    cache.changed("u", "v")  # a block arrived while the relations were being read
    assert not cache.keep("u", read, ticket) and cache.get("u") is None
    ticket = cache.ticket("u")
    cache.changed("w", "x")  # somebody else's block holds up nobody's read
    assert cache.keep("u", read, ticket)
    held = cache.get("u")
    assert held is not None and held.bars("v") and not held.bars("w")
    cache.changed("v", "u")
    assert cache.get("u") is None
    ticket = cache.ticket("u")
    cache.absent("u")
    cache.present("u")  # gone and back while the read was under way
    assert not cache.keep("u", read, ticket) and cache.get("u") is None


def test_a_lost_subscription_empties_the_cache_and_keeps_nothing_until_it_is_back() -> None:
    generation: list[int | None] = [1]
    cache = BlockCache(lambda: generation[0])
    cache.present("u")
    read = Relations(blocked_by=frozenset({"v"}))
    assert cache.keep("u", read, cache.ticket("u"))
    ticket = cache.ticket("u")
    generation[0] = None  # Redis lost: changes published meanwhile are missed
    assert cache.get("u") is None and not cache.keep("u", read, cache.ticket("u"))
    generation[0] = 2
    assert not cache.keep("u", read, ticket), "a read from before the loss"
    assert cache.keep("u", read, cache.ticket("u")) and cache.get("u") == read


async def test_changes_past_the_rate_are_refused_over_both_ways_with_a_wait(
    nursery: trio.Nursery, config: Config
) -> None:
    server = await start_server(nursery, with_config(config, block_changes=3))
    api = Api(server)
    alice, bob = await api.account(), await api.account()
    a = await Connect(server, nursery)(alice)
    assert (await a.command({"type": "block", "user_id": bob.user_id}))["blocked"] is True
    assert (await api.call("DELETE", f"/api/v1/blocks/{bob.user_id}", token=alice.token)).status_code == 204
    assert (await a.command({"type": "block", "user_id": bob.user_id}))["blocked"] is True
    refused = await a.command({"type": "unblock", "user_id": bob.user_id})
    assert (refused["type"], refused["code"]) == ("error", "rate_limited"), refused
    answer = await api.call("DELETE", f"/api/v1/blocks/{bob.user_id}", token=alice.token)
    assert (answer.status_code, answer.json()["error"]["code"]) == (429, "rate_limited")
    assert int(answer.headers["Retry-After"]) >= 1
    listed = await api.call("GET", "/api/v1/blocks", token=alice.token)
    assert [b["user"]["user_id"] for b in listed.json()["blocks"]] == [bob.user_id], (
        "the refused ones changed nothing"
    )
    await api.http.aclose()
