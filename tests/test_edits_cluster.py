"""Edits and deletes in the cluster mode: stored by one process, shown in order on every process."""

from __future__ import annotations

import pytest

from tests.test_cluster import Pair, nothing_more, pair
from tests.test_edits import delete, edit, history, post, until_frame
from tests.test_moderation import act, new_room

pytestmark = pytest.mark.cluster
__all__ = ["pair"]  # the fixture, shared with test_cluster.py


async def test_an_edit_and_a_delete_on_one_process_reach_a_reader_on_the_other(pair: Pair) -> None:
    alice, bob = await pair.api_a.account(), await pair.api_a.account()
    room = await new_room(pair.api_a, alice, "cluster edits")
    a = await pair.connect_a(alice, join=room)
    b = await pair.connect_b(bob, join=room)
    first = await post(a, room, "helo")
    assert (await b.expect("group", timeout=10))["id"] == first
    edited = await edit(a, room, first, "hello")
    assert edited["type"] == "edited", edited
    own = await until_frame(a, {"edit"})
    assert own["message_id"] == first
    second = await post(a, room, "second")
    seen = [await until_frame(b, {"edit", "group", "delete"}) for _ in range(2)]
    assert [f["type"] for f in seen] == ["edit", "group"], "the edit keeps its place among the messages"
    assert seen[0]["content"] == "hello" and seen[0]["edited_at"] == edited["edited_at"]
    assert seen[1]["id"] == second
    deleted = await delete(a, room, second)
    assert deleted["type"] == "deleted", deleted
    gone = await b.expect("delete", timeout=10)
    assert (gone["message_id"], gone["deleted_by"]) == (second, alice.user)
    await nothing_more(a, "edit")  # the sender's process gives its sessions one copy
    shown = await history(pair.api_b, bob, room)
    assert shown[first]["content"] == "hello" and "edited_at" in shown[first]
    assert shown[second]["content"] == "" and shown[second]["deleted_by"] == alice.user


async def test_an_admin_on_the_other_process_deletes_and_a_member_there_cannot(pair: Pair) -> None:
    owner = await pair.api_a.account()
    admin, member = await pair.api_b.account(), await pair.api_b.account()
    room = await new_room(pair.api_a, owner, "cluster admin")
    o = await pair.connect_a(owner, join=room)
    assert (await act(o, "grant_admin", room, admin))["type"] == "moderated"
    said = await post(o, room, "the owner's words")
    m = await pair.connect_b(member, join=room)
    refused = await delete(m, room, said)
    assert (refused["type"], refused["code"]) == ("error", "forbidden"), refused
    refused = await edit(m, room, said, "mine now")
    assert (refused["type"], refused["code"]) == ("error", "forbidden"), refused
    adm = await pair.connect_b(admin)
    assert (await delete(adm, room, said))["type"] == "deleted"
    event = await o.expect("delete", timeout=10)
    assert event["deleted_by"] == admin.user and event["message_id"] == said
    assert (await m.expect("delete", timeout=10))["message_id"] == said
