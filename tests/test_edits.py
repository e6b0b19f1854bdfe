"""Editing and deleting room messages, over real sockets against a real server.

Every test that stores something runs on SQLite and, through the ``db_url``
fixture's parameters, on MariaDB and PostgreSQL too.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from tortoise import Tortoise

from actors import revisions
from actors.moderation import Level
from storage.database import Database
from storage.interface import MessageFacts
from storage.models import MessageRow
from tests.conftest import Account, Api, Connect, Peer, Server, start_server, with_config
from tests.test_moderation import act, new_room, refused
from web.config import Config
from wire.clock import now_ms
from wire.revisions import Delete, Edit
from wire.shapes import User


async def post(peer: Peer, room_id: str, content: str) -> int:
    ack = await peer.command({"type": "group", "room_id": room_id, "content": content})
    assert ack["type"] == "ack", ack
    return int(ack["id"])


async def edit(peer: Peer, room_id: str, message_id: int, content: str) -> dict[str, Any]:
    return await peer.command(
        {"type": "edit", "room_id": room_id, "message_id": message_id, "content": content}
    )


async def delete(peer: Peer, room_id: str, message_id: int) -> dict[str, Any]:
    return await peer.command({"type": "delete", "room_id": room_id, "message_id": message_id})


async def history(api: Api, who: Account, room_id: str) -> dict[int, dict[str, Any]]:
    answer = await api.call("GET", f"/api/v1/rooms/{room_id}/messages", token=who.token)
    assert answer.status_code == 200, answer.text
    return {m["id"]: m for m in answer.json()["messages"]}


async def stored_content(server: Server, message_id: int) -> str:
    """The ``content`` column of the message's row, read from the database itself."""
    db: Database = server.running.services.db

    async def query() -> str:
        row = await MessageRow.get(id=message_id)
        return str(row.content)

    return await db.call(query)


async def until_frame(peer: Peer, kinds: set[str]) -> dict[str, Any]:
    """The next frame whose type is one of ``kinds`` (join notices and the like skipped)."""
    with trio.fail_after(5):
        while True:
            frame = await peer.recv()
            if frame.get("type") in kinds:
                return frame


def test_the_decision_on_a_stored_message() -> None:
    alice = User("alice", "alice")
    facts = MessageFacts("room", alice, created_at=1_000, deleted=False)
    edit_it, delete_it = Edit("room", 7, "new"), Delete("room", 7)

    def code(
        command: Edit | Delete, user_id: str, level: Level, at: int, seen: MessageFacts | None
    ) -> str | None:
        refused = revisions.decide(command, "room", user_id, level, 900_000, at)(seen)
        return None if refused is None else refused.code

    assert code(edit_it, "alice", Level.MEMBER, 901_000, facts) is None, "the window's last moment"
    assert code(edit_it, "alice", Level.MEMBER, 901_001, facts) == "edit_window_closed"
    assert code(edit_it, "bob", Level.OWNER, 2_000, facts) == "forbidden", "nobody edits another's words"
    assert code(delete_it, "bob", Level.MEMBER, 2_000, facts) == "forbidden"
    assert code(delete_it, "bob", Level.ADMIN, 10**9, facts) is None, "admins delete at any time"
    assert code(delete_it, "alice", Level.MEMBER, 10**9, facts) is None
    assert code(delete_it, "alice", Level.OWNER, 2_000, None) == "message_not_found"
    elsewhere = MessageFacts("other room", alice, 1_000, False)
    assert code(delete_it, "alice", Level.OWNER, 2_000, elsewhere) == "message_not_found"
    gone = MessageFacts("room", alice, 1_000, True)
    assert code(edit_it, "alice", Level.MEMBER, 2_000, gone) == "message_not_found"


async def test_an_edit_reaches_the_room_in_order_and_shows_in_history(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    room = await new_room(api, alice, "edits")
    a = await connect(alice, join=room)
    b = await connect(bob, join=room)
    first = await post(a, room, "helo")
    assert (await b.expect("group"))["id"] == first
    reply = await edit(a, room, first, "hello")
    assert reply["type"] == "edited" and reply["message_id"] == first and reply["room_id"] == room, reply
    after = await post(a, room, "next")
    seen = await until_frame(b, {"edit", "group"})
    assert seen["type"] == "edit", "the edit comes before the message posted after it"
    assert seen == {
        "type": "edit",
        "room_id": room,
        "message_id": first,
        "content": "hello",
        "edited_at": reply["edited_at"],
        "sender": alice.user,
    }
    assert (await until_frame(b, {"edit", "group"}))["id"] == after
    shown = await history(api, bob, room)
    assert shown[first]["content"] == "hello" and shown[first]["edited_at"] == reply["edited_at"]
    assert set(shown[after]) == {"type", "id", "content", "sender", "timestamp", "room_id"}, (
        "a message never revised looks as before"
    )


async def test_an_edit_by_someone_else_is_refused(api: Api, connect: Connect, server: Server) -> None:
    alice, bob = await api.account(), await api.account()
    room = await new_room(api, alice, "not yours")
    a = await connect(alice, join=room)
    b = await connect(bob, join=room)
    mine = await post(a, room, "mine")
    refused(await edit(b, room, mine, "yours now"), "forbidden")
    refused(await delete(b, room, mine), "forbidden")
    assert (await history(api, alice, room))[mine]["content"] == "mine"
    assert await stored_content(server, mine) == "mine"


async def test_an_edit_after_the_window_is_refused(
    api: Api, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await api.account()
    room = await new_room(api, alice, "too late")
    a = await connect(alice, join=room)
    sent = await post(a, room, "old news")
    monkeypatch.setattr(revisions, "now_ms", lambda: now_ms() + 900_001)
    reply = await edit(a, room, sent, "new news")
    refused(reply, "edit_window_closed")
    assert "900 s" in reply["message"]
    assert (await delete(a, room, sent))["type"] == "deleted", "deleting has no window"


async def test_a_delete_by_the_sender_leaves_a_tombstone(api: Api, connect: Connect, server: Server) -> None:
    alice, bob = await api.account(), await api.account()
    room = await new_room(api, alice, "tombstones")
    a = await connect(alice, join=room)
    b = await connect(bob, join=room)
    gone = await post(a, room, "regrettable")
    await edit(a, room, gone, "more regrettable")
    reply = await delete(a, room, gone)
    assert reply["type"] == "deleted" and reply["message_id"] == gone, reply
    event = await b.expect("delete")
    assert event == {
        "type": "delete",
        "room_id": room,
        "message_id": gone,
        "deleted_by": alice.user,
        "deleted_at": reply["deleted_at"],
    }
    shown = (await history(api, bob, room))[gone]
    assert shown["content"] == "" and shown["deleted_at"] == reply["deleted_at"]
    assert shown["deleted_by"] == alice.user and shown["sender"] == alice.user and "edited_at" not in shown
    assert await stored_content(server, gone) == "", "the text is erased from the row, not hidden"
    refused(await delete(a, room, gone), "message_not_found")
    refused(await edit(a, room, gone, "back"), "message_not_found")


async def test_an_admin_deletes_a_members_message(api: Api, connect: Connect, server: Server) -> None:
    owner, admin, member = await api.account(), await api.account(), await api.account()
    room = await new_room(api, owner, "admin deletes")
    o = await connect(owner, join=room)
    assert (await act(o, "grant_admin", room, admin))["type"] == "moderated"
    m = await connect(member, join=room)
    spam = await post(m, room, "spam")
    a = await connect(admin)  # deleting needs no join
    reply = await delete(a, room, spam)
    assert reply["type"] == "deleted", reply
    event = await m.expect("delete")
    assert event["deleted_by"] == admin.user and event["message_id"] == spam
    shown = (await history(api, member, room))[spam]
    assert (shown["content"], shown["deleted_by"], shown["sender"]) == ("", admin.user, member.user)
    assert await stored_content(server, spam) == ""
    other = await post(m, room, "more")
    assert (await delete(o, room, other))["type"] == "deleted", "the owner deletes too"


async def test_unknown_ids_and_other_rooms_messages_are_not_found(api: Api, connect: Connect) -> None:
    alice = await api.account()
    here, there = await new_room(api, alice, "here"), await new_room(api, alice, "there")
    a = await connect(alice, join=here)
    await a.command({"type": "join", "room_id": there})
    elsewhere = await post(a, there, "in the other room")
    refused(await edit(a, here, elsewhere, "moved?"), "message_not_found")
    refused(await delete(a, here, elsewhere), "message_not_found")
    refused(await delete(a, here, 10**12), "message_not_found")
    refused(await delete(a, "no-such-room", elsewhere), "room_not_found")
    bad = await a.command({"type": "edit", "room_id": here, "message_id": "1", "content": "x"})
    refused(bad, "bad_request")
    refused(await a.command({"type": "edit", "room_id": here, "message_id": 1, "content": ""}), "bad_request")


async def test_an_edit_needs_a_join_and_no_mute(api: Api, connect: Connect) -> None:
    owner, member = await api.account(), await api.account()
    room = await new_room(api, owner, "muted edits")
    o = await connect(owner, join=room)
    m = await connect(member, join=room)
    said = await post(m, room, "before the mute")
    assert (await act(o, "mute", room, member))["type"] == "moderated"
    refused(await edit(m, room, said, "after the mute"), "muted")
    assert (await delete(m, room, said))["type"] == "deleted", "a muted user may still take their words back"
    outside = await connect(owner)
    mine = await post(o, room, "owner's")
    refused(await edit(outside, room, mine, "from outside"), "not_in_room")


async def test_recovery_shows_edits_and_tombstones(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    room = await new_room(api, alice, "recovery")
    a = await connect(alice, join=room)
    b = await connect(bob, join=room)
    older, untouched = await post(a, room, "an old typo"), await post(a, room, "left alone")
    start = await post(a, room, "seen")
    await b.expect("group", id=start)
    await b.ws.aclose()
    changed, gone = await post(a, room, "typo"), await post(a, room, "oops")
    await edit(a, room, changed, "fixed")
    await delete(a, room, gone)
    await edit(a, room, older, "an old text, fixed")
    await delete(a, room, start)
    back = await connect(bob)
    joined = await back.command({"type": "join", "room_id": room, "since": start})
    found = {m["id"]: m for m in joined["messages"]}
    assert found[changed]["content"] == "fixed" and "edited_at" in found[changed]
    assert found[gone]["content"] == "" and found[gone]["deleted_by"] == alice.user
    revised = {m["id"]: m for m in joined["revised"]}
    assert set(revised) == {older, start}, "the older messages changed while away, and only those"
    assert revised[older]["content"] == "an old text, fixed" and "edited_at" in revised[older]
    assert revised[start]["content"] == "" and "deleted_at" in revised[start]
    assert untouched not in revised
    plain = await connect(bob)
    assert "revised" not in await plain.command({"type": "join", "room_id": room})


async def test_edits_can_be_turned_off(nursery: trio.Nursery, config: Config) -> None:
    server = await start_server(nursery, with_config(config, edit_window=0))
    api = Api(server)
    alice = await api.account()
    room = await new_room(api, alice, "no edits")
    a = await Connect(server, nursery)(alice, join=room)
    sent = await post(a, room, "final")
    reply = await edit(a, room, sent, "not final")
    refused(reply, "edit_window_closed")
    assert "turned off" in reply["message"]
    assert (await delete(a, room, sent))["type"] == "deleted"
    await api.http.aclose()
    server.stop.set()


async def test_edits_and_deletes_past_the_rate_are_refused_and_change_nothing(
    nursery: trio.Nursery, config: Config
) -> None:
    """Each change is a write the room waits for: a member looping edits must not hold the room up."""
    server = await start_server(nursery, with_config(config, message_changes=3))
    api = Api(server)
    alice = await api.account()
    room = await new_room(api, alice, "slow edits")
    a = await Connect(server, nursery)(alice, join=room)
    first, second = await post(a, room, "one"), await post(a, room, "two")
    assert (await edit(a, room, first, "one, again"))["type"] == "edited"
    assert (await edit(a, room, first, "one, once more"))["type"] == "edited"
    assert (await delete(a, room, second))["type"] == "deleted"
    too_many = await edit(a, room, first, "one, a fourth time")
    refused(too_many, "rate_limited")
    assert "try again in" in too_many["message"]
    refused(await delete(a, room, first), "rate_limited")
    assert (await history(api, alice, room))[first]["content"] == "one, once more", (
        "the refused ones changed nothing"
    )
    assert (await a.command({"type": "group", "room_id": room, "content": "posts go on"}))["type"] == "ack"
    await api.http.aclose()
    server.stop.set()


async def test_a_database_made_before_edits_gains_them_at_start(
    config: Config, nursery: trio.Nursery
) -> None:
    async with trio.open_nursery() as first:
        server = await start_server(first, config)
        api = Api(server)
        alice = await api.account()
        a = await Connect(server, first)(alice, join="lobby")
        old = await post(a, "lobby", "from the old days")

        async def drop() -> None:  # what the previous version had: no table of revisions
            await Tortoise.get_connection("default").execute_script("DROP TABLE message_revisions")

        await server.running.services.db.call(drop)
        await api.http.aclose()
        server.stop.set()
    server = await start_server(nursery, config)
    api = Api(server)
    a = await Connect(server, nursery)(alice, join="lobby")
    assert (await edit(a, "lobby", old, "from today"))["type"] == "edited"
    assert (await history(api, alice, "lobby"))[old]["content"] == "from today"
    await api.http.aclose()
