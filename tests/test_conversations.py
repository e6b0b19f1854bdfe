"""``GET /api/v1/conversations`` and ``GET /api/v1/users/lookup``: private conversations found again after a reload."""

from __future__ import annotations

from typing import Any

import trio

from storage.models import ConversationRow
from tests.conftest import Account, Api, Connect, start_server, with_config
from tests.test_read_markers import whisper
from web.config import Config


async def conversations(api: Api, who: Account, **query: Any) -> dict[str, Any]:
    answer = await api.call("GET", "/api/v1/conversations", token=who.token, params=query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_list_holds_each_peer_with_the_last_message_and_unread_count_newest_first(
    api: Api, connect: Connect
) -> None:
    alice, bob, carol, dave = [await api.account() for _ in range(4)]
    a, b, c = await connect(alice), await connect(bob), await connect(carol)
    await whisper(b, alice, "hi alice")
    await whisper(a, bob, "hi bob")
    last_from_bob = await whisper(b, alice, "how are you?")
    from_carol = await whisper(c, alice, "ping from carol")
    await whisper(c, dave, "not alice's business")
    listed = (await conversations(api, alice))["conversations"]
    assert [entry["peer"] for entry in listed] == [carol.user, bob.user]
    newest, older = listed
    assert (
        newest["last_message"]["id"] == from_carol and newest["last_message"]["content"] == "ping from carol"
    )
    assert newest["unread"] == 1 and newest["last_read"] == 0
    assert older["last_message"]["id"] == last_from_bob and older["last_message"]["sender"] == bob.user
    assert older["unread"] == 1, "alice's own reply marked bob's first message read"
    await a.command({"type": "read", "peer_id": bob.user_id, "up_to": last_from_bob})
    listed = (await conversations(api, alice))["conversations"]
    assert listed[1]["unread"] == 0 and listed[1]["last_read"] == last_from_bob
    # Nobody else's conversation is in anybody's list.
    assert [e["peer"] for e in (await conversations(api, dave))["conversations"]] == [carol.user]
    assert [e["peer"] for e in (await conversations(api, bob))["conversations"]] == [alice.user]


async def test_pages_follow_the_cursor_without_repeat_or_gap(api: Api, connect: Connect) -> None:
    alice = await api.account()
    peers = [await api.account() for _ in range(5)]
    for peer in peers:
        await whisper(await connect(peer), alice, f"from {peer.username}")
    seen: list[str] = []
    page = await conversations(api, alice, limit=2)
    while True:
        assert len(page["conversations"]) <= 2
        seen += [e["peer"]["user_id"] for e in page["conversations"]]
        if page["next_cursor"] is None:
            break
        page = await conversations(api, alice, limit=2, cursor=page["next_cursor"])
    assert seen == [p.user_id for p in reversed(peers)]
    for query in ({"limit": 0}, {"limit": 51}, {"cursor": "not-a-cursor"}):
        answer = await api.call("GET", "/api/v1/conversations", token=alice.token, params=query)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request", query


async def test_a_message_stored_for_an_offline_user_is_in_their_list_when_they_come(
    api: Api, connect: Connect
) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice)
    ack = await a.command({"type": "private", "target_id": bob.user_id, "content": "while you were away"})
    assert ack["delivered"] is False
    (entry,) = (await conversations(api, bob))["conversations"]
    assert entry["peer"] == alice.user and entry["unread"] == 1
    assert entry["last_message"]["content"] == "while you were away"


async def test_a_user_is_found_by_exact_name_and_nothing_more_is_revealed(api: Api) -> None:
    alice, bob = await api.account(), await api.account()
    answer = await api.call(
        "GET", "/api/v1/users/lookup", token=alice.token, params={"username": bob.username.upper()}
    )
    assert answer.status_code == 200 and answer.json() == {"user": bob.user}
    missing = await api.call(
        "GET", "/api/v1/users/lookup", token=alice.token, params={"username": bob.username[:-1]}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "user_not_found"
    for query in ({}, {"username": ""}, {"username": "x" * 33}):
        answer = await api.call("GET", "/api/v1/users/lookup", token=alice.token, params=query)
        assert answer.status_code == 400, query
    assert (
        await api.call("GET", "/api/v1/users/lookup", params={"username": bob.username})
    ).status_code == 401


async def test_looking_up_names_faster_than_the_rate_is_429_with_retry_after(
    config: Config, nursery: trio.Nursery
) -> None:
    """A free account must not learn which names exist faster than registering would tell it."""
    api = Api(await start_server(nursery, with_config(config, user_lookups=3)))
    alice, bob = await api.account(), await api.account()
    for name in (bob.username, "nobody-here", bob.username):
        answer = await api.call("GET", "/api/v1/users/lookup", token=alice.token, params={"username": name})
        assert answer.status_code in (200, 404), answer.text
    refused = await api.call("GET", "/api/v1/users/lookup", token=alice.token, params={"username": "guess"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = await api.call(
        "GET", "/api/v1/users/lookup", token=bob.token, params={"username": alice.username}
    )
    assert other.status_code == 200, "the rate is counted per account"
    await api.http.aclose()


async def test_a_database_from_before_the_list_gets_its_conversations_at_start(
    nursery: trio.Nursery, config: Config
) -> None:
    first = await start_server(nursery, config)
    api = Api(first)
    alice, bob = await api.account(), await api.account()
    newest = await whisper(await Connect(first, nursery)(alice), bob, "written before the upgrade")
    await first.running.services.db.call(
        lambda: ConversationRow.all().delete()
    )  # as an older version left it
    first.stop.set()
    await api.http.aclose()
    with trio.fail_after(20):
        while first.running.services.ready:
            await trio.sleep(0.05)
    second = await start_server(nursery, config)
    api = Api(second)
    (entry,) = (await conversations(api, bob))["conversations"]
    assert entry["peer"] == alice.user and entry["last_message"]["id"] == newest and entry["unread"] == 1
    await api.http.aclose()
    second.stop.set()
