"""Private rooms in the cluster mode: members and invites changed on one process hold on the other."""

from __future__ import annotations

import pytest

from tests.test_cluster import Pair, pair
from tests.test_moderation import act, refused
from tests.test_private_rooms import private_room

pytestmark = pytest.mark.cluster
__all__ = ["pair"]  # the fixture, shared with test_cluster.py


async def test_a_member_added_on_one_process_joins_on_the_other_and_leaves_both_when_removed(
    pair: Pair,
) -> None:
    owner, member, witness = (
        await pair.api_a.account(),
        await pair.api_a.account(),
        await pair.api_a.account(),
    )
    room_id = (await private_room(pair.api_a, owner))["room_id"]
    owner_a = await pair.connect_a(owner, join=room_id)
    assert (await act(owner_a, "add_member", room_id, witness))["type"] == "moderated"
    witness_b = await pair.connect_b(witness, join=room_id)  # the room runs on process b now
    member_b = await pair.connect_b(member)
    refused(await member_b.command({"type": "join", "room_id": room_id}), "room_not_found")

    assert (await act(owner_a, "add_member", room_id, member))["type"] == "moderated"
    assert (await member_b.expect("added_to_room", timeout=10))["room"]["room_id"] == room_id
    await witness_b.expect("system", timeout=10, event="add_member")  # process b has applied it
    joined = await member_b.command({"type": "join", "room_id": room_id})
    assert joined["type"] == "joined", joined
    member_a = await pair.connect_a(member, join=room_id)

    assert (await act(owner_a, "remove_member", room_id, member))["type"] == "moderated"
    assert (await member_a.expect("kicked", timeout=10))["room_id"] == room_id
    assert (await member_b.expect("kicked", timeout=10))["room_id"] == room_id
    for peer in (member_a, member_b):
        post = await peer.command({"type": "group", "room_id": room_id, "content": "still in?"})
        refused(post, "room_not_found")


async def test_an_invite_sent_on_one_process_reaches_the_invitee_on_the_other(pair: Pair) -> None:
    owner, guest = await pair.api_a.account(), await pair.api_a.account()
    room_id = (await private_room(pair.api_a, owner))["room_id"]
    owner_a = await pair.connect_a(owner)
    guest_b = await pair.connect_b(guest)
    assert (await act(owner_a, "invite", room_id, guest))["type"] == "invite_sent"
    invited = await guest_b.expect("invited", timeout=10)
    assert invited["room"]["room_id"] == room_id
    accepted = await guest_b.command({"type": "accept_invite", "room_id": room_id})
    assert accepted["type"] == "invite_accepted", accepted
    assert (await guest_b.command({"type": "join", "room_id": room_id}))["type"] == "joined"
    answer = await pair.api_a.call("GET", f"/api/v1/rooms/{room_id}/messages", token=guest.token)
    assert answer.status_code == 200
