"""Private rooms and invites (issue 17): visible, readable and joinable by members only.

Over real sockets against a real server, on SQLite and, through the
``db_url`` fixture's parameters, on MariaDB and PostgreSQL too.
"""

from __future__ import annotations

from typing import Any

import trio
from tortoise import Tortoise

from actors.membership import refusal
from actors.moderation import Level, Moderation
from storage.database import open_database
from storage.interface import INVITES_PER_USER, ModerationState
from storage.models import RoomRow
from tests.conftest import Account, Api, Connect, Peer, start_server, with_config
from tests.test_moderation import act, refused
from web.config import Config


async def private_room(api: Api, owner: Account, name: str = "secret") -> dict[str, Any]:
    answer = await api.call(
        "POST", "/api/v1/rooms", token=owner.token, json={"name": name, "visibility": "private"}
    )
    assert answer.status_code == 201, answer.text
    room: dict[str, Any] = answer.json()["room"]
    assert room["visibility"] == "private"
    return room


async def listed(api: Api, who: Account) -> set[str]:
    answer = await api.call("GET", "/api/v1/rooms?limit=200", token=who.token)
    assert answer.status_code == 200, answer.text
    return {r["room_id"] for r in answer.json()["rooms"]}


async def can_read(api: Api, who: Account, room_id: str) -> bool:
    """Whether history, details and the online list answer; a non-member must get the 404 of no room."""
    paths = [
        f"/api/v1/rooms/{room_id}/messages",
        f"/api/v1/rooms/{room_id}",
        f"/api/v1/rooms/{room_id}/online",
    ]
    statuses = set()
    for path in paths:
        answer = await api.call("GET", path, token=who.token)
        statuses.add(answer.status_code)
        if answer.status_code == 404:
            assert answer.json()["error"] == {
                "code": "room_not_found",
                "message": f"there is no room {room_id!r}",
            }
    assert len(statuses) == 1, statuses
    return statuses == {200}


async def join(peer: Peer, room_id: str) -> dict[str, Any]:
    return await peer.command({"type": "join", "room_id": room_id})


def test_only_admins_add_members_and_only_to_private_rooms() -> None:
    private = Moderation(ModerationState("owner", frozenset(), {}, {}, {}, frozenset({"owner"})))
    assert refusal("add_member", private, "bob", Level.MEMBER) is not None
    assert refusal("add_member", private, "bob", Level.ADMIN) is None
    assert refusal("remove_member", private, "bob", Level.OWNER) is not None, "bob is no member"
    assert refusal("add_member", Moderation(), "bob", Level.OWNER) is not None, "a public room has no members"
    assert refusal("kick", private, "bob", Level.MEMBER) is None, "not a membership action: the levels decide"


async def test_a_non_member_neither_sees_nor_reads_nor_joins_a_private_room(
    api: Api, connect: Connect
) -> None:
    owner, outsider = await api.account(), await api.account()
    room = await private_room(api, owner)
    room_id = room["room_id"]
    o = await connect(owner)
    joined = await join(o, room_id)
    assert joined["type"] == "joined" and joined["room"]["visibility"] == "private"
    hush = await o.command({"type": "group", "room_id": room_id, "content": "hush"})
    assert hush["type"] == "ack"
    assert room_id in await listed(api, owner)
    assert await can_read(api, owner, room_id)

    assert room_id not in await listed(api, outsider)
    assert not await can_read(api, outsider, room_id)
    log = await api.call("GET", f"/api/v1/rooms/{room_id}/moderation", token=outsider.token)
    assert log.status_code == 404
    x = await connect(outsider)
    unknown = await join(x, "nosuchroom0")
    answer = await join(x, room_id)
    refused(answer, "room_not_found")
    assert answer["message"] == unknown["message"].replace("nosuchroom0", room_id), "no hint that it exists"
    refused(await x.command({"type": "group", "room_id": room_id, "content": "hi"}), "room_not_found")
    refused(await x.command({"type": "online", "room_id": room_id}), "room_not_found")
    refused(await x.command({"type": "leave", "room_id": room_id}), "room_not_found")
    refused(await act(x, "kick", room_id, owner), "room_not_found")
    # Edits and deletes say nothing of which message ids exist there.
    for wanted in (hush["id"], hush["id"] + 1000):
        delete = {"type": "delete", "room_id": room_id, "message_id": wanted}
        refused(await x.command(delete), "room_not_found")
        edit = {"type": "edit", "room_id": room_id, "message_id": wanted, "content": "mine now"}
        refused(await x.command(edit), "room_not_found")
    members = await api.call("GET", f"/api/v1/rooms/{room_id}/members", token=outsider.token)
    assert members.status_code == 404


async def test_a_private_name_takes_no_public_name(api: Api) -> None:
    owner, other = await api.account(), await api.account()
    await private_room(api, owner, "Hidden plans")
    answer = await api.call("POST", "/api/v1/rooms", token=other.token, json={"name": "hidden plans"})
    assert answer.status_code == 201, "a 409 would tell an outsider the private room exists"
    await private_room(api, other, "Hidden plans")


async def test_an_invited_user_accepts_joins_and_reads(api: Api, connect: Connect) -> None:
    owner, guest = await api.account(), await api.account()
    room_id = (await private_room(api, owner))["room_id"]
    o = await connect(owner, join=room_id)
    await o.command({"type": "group", "room_id": room_id, "content": "before you came"})
    g = await connect(guest)
    sent = await act(o, "invite", room_id, guest)
    assert sent["type"] == "invite_sent" and sent["user"]["user_id"] == guest.user_id
    invited = await g.expect("invited")
    assert invited["room"]["room_id"] == room_id and invited["inviter"]["user_id"] == owner.user_id
    pending = (await api.call("GET", "/api/v1/me/invites", token=guest.token)).json()["invites"]
    assert [i["room"]["room_id"] for i in pending] == [room_id]
    assert room_id not in await listed(api, guest), "an invite alone shows nothing"

    accepted = await g.command({"type": "accept_invite", "room_id": room_id})
    assert accepted["type"] == "invite_accepted" and accepted["room"]["room_id"] == room_id
    assert (await join(g, room_id))["type"] == "joined"
    assert room_id in await listed(api, guest)
    assert await can_read(api, guest, room_id)
    notice = await o.expect("system", event="accept_invite")
    assert notice["user"]["user_id"] == guest.user_id
    assert (await api.call("GET", "/api/v1/me/invites", token=guest.token)).json()["invites"] == []
    members = await api.call("GET", f"/api/v1/rooms/{room_id}/members", token=guest.token)
    assert {u["user_id"] for u in members.json()["members"]} == {owner.user_id, guest.user_id}
    refused(await g.command({"type": "accept_invite", "room_id": "nosuchroom0"}), "room_not_found")


async def test_a_declined_invite_gives_nothing(api: Api, connect: Connect) -> None:
    owner, guest = await api.account(), await api.account()
    room_id = (await private_room(api, owner))["room_id"]
    o, g = await connect(owner), await connect(guest)
    assert (await act(o, "invite", room_id, guest))["type"] == "invite_sent"
    declined = await g.command({"type": "decline_invite", "room_id": room_id})
    assert declined == {"type": "invite_declined", "room_id": room_id, "ref": declined["ref"]}
    refused(await g.command({"type": "accept_invite", "room_id": room_id}), "room_not_found")
    refused(await join(g, room_id), "room_not_found")
    assert not await can_read(api, guest, room_id)
    refused(await g.command({"type": "decline_invite", "room_id": room_id}), "room_not_found")


async def test_invites_are_refused_where_they_make_no_sense(api: Api, connect: Connect) -> None:
    owner, guest, stranger, blocker = [await api.account() for _ in range(4)]
    room_id = (await private_room(api, owner))["room_id"]
    public = await api.call("POST", "/api/v1/rooms", token=owner.token, json={"name": "open to all"})
    o, s = await connect(owner), await connect(stranger)
    refused(await act(o, "invite", public.json()["room"]["room_id"], guest), "bad_request")
    refused(await act(s, "invite", room_id, guest), "room_not_found")  # only members invite
    refused(await act(o, "invite", room_id, owner), "bad_request")  # a member already
    b = await connect(blocker)
    assert (await b.command({"type": "block", "user_id": owner.user_id}))["type"] == "block_changed"
    refused(await act(o, "invite", room_id, blocker), "blocked")
    assert (await api.call("GET", "/api/v1/me/invites", token=blocker.token)).json()["invites"] == []
    assert (await act(o, "ban", room_id, guest))["type"] == "moderated"
    refused(await act(o, "invite", room_id, guest), "forbidden")


async def test_an_admin_adds_and_removes_members_and_a_member_cannot(api: Api, connect: Connect) -> None:
    owner, member, other = await api.account(), await api.account(), await api.account()
    room_id = (await private_room(api, owner))["room_id"]
    o = await connect(owner, join=room_id)
    waiting = await connect(member)  # online before: told at once, not at its next room list
    added = await act(o, "add_member", room_id, member)
    assert added["type"] == "moderated" and added["action"] == "add_member"
    told = await waiting.expect("added_to_room")
    assert (told["room"]["room_id"], told["room"]["visibility"], told["actor"]) == (
        room_id,
        "private",
        owner.user,
    )
    m = await connect(member, join=room_id)
    refused(await act(m, "add_member", room_id, other), "forbidden")
    x = await connect(other)
    refused(await join(x, room_id), "room_not_found")
    assert (await act(m, "invite", room_id, other))["type"] == "invite_sent", "any member invites"

    removed = await act(o, "remove_member", room_id, member)
    assert removed["type"] == "moderated"
    kicked = await m.expect("kicked")
    assert kicked["room_id"] == room_id
    refused(
        await m.command({"type": "group", "room_id": room_id, "content": "still here?"}), "room_not_found"
    )
    refused(await join(m, room_id), "room_not_found")
    assert not await can_read(api, member, room_id)
    remembered = await api.call("GET", "/api/v1/me/rooms", token=member.token)
    assert room_id not in {r["room_id"] for r in remembered.json()["rooms"]}
    refused(await act(o, "remove_member", room_id, member), "bad_request")
    log = await api.call("GET", f"/api/v1/rooms/{room_id}/moderation", token=owner.token)
    assert [a["action"] for a in log.json()["actions"]][:2] == ["remove_member", "add_member"]


async def test_a_banned_member_cannot_read_the_history(api: Api, connect: Connect) -> None:
    owner, member = await api.account(), await api.account()
    room_id = (await private_room(api, owner))["room_id"]
    o = await connect(owner, join=room_id)
    await act(o, "add_member", room_id, member)
    m = await connect(member, join=room_id)
    assert await can_read(api, member, room_id)
    assert (await act(o, "ban", room_id, member))["type"] == "moderated"
    await m.expect("kicked")
    assert not await can_read(api, member, room_id)
    assert room_id not in await listed(api, member)
    refused(await join(m, room_id), "room_not_found")
    assert (await act(o, "unban", room_id, member))["type"] == "moderated"
    assert not await can_read(api, member, room_id), "a lifted ban gives no membership back"


async def test_a_public_room_is_unchanged(api: Api, connect: Connect) -> None:
    owner, anyone = await api.account(), await api.account()
    answer = await api.call("POST", "/api/v1/rooms", token=owner.token, json={"name": "town square"})
    room = answer.json()["room"]
    assert room["visibility"] == "public"
    assert room["room_id"] in await listed(api, anyone)
    assert await can_read(api, anyone, room["room_id"])
    a = await connect(anyone)
    assert (await join(a, room["room_id"]))["type"] == "joined"
    members = await api.call("GET", f"/api/v1/rooms/{room['room_id']}/members", token=anyone.token)
    assert members.status_code == 400
    bad = await api.call(
        "POST", "/api/v1/rooms", token=owner.token, json={"name": "x", "visibility": "secret"}
    )
    assert bad.status_code == 400


async def test_an_outsider_learns_nothing_from_read_markers_or_unread_counts(
    api: Api, connect: Connect
) -> None:
    owner, outsider = await api.account(), await api.account()
    room_id = (await private_room(api, owner))["room_id"]
    o = await connect(owner, join=room_id)
    await o.command({"type": "group", "room_id": room_id, "content": "one"})
    x = await connect(outsider)
    refused(await x.command({"type": "read", "room_id": room_id, "up_to": 1}), "room_not_found")
    counts = await api.call("GET", f"/api/v1/unread?rooms={room_id}", token=outsider.token)
    assert counts.json()["rooms"] == [{"room_id": room_id, "last_read": 0, "unread": 0}]
    mine = await api.call("GET", f"/api/v1/unread?rooms={room_id}", token=owner.token)
    assert mine.json()["rooms"][0]["unread"] == 1


async def test_an_invite_from_a_user_blocked_since_is_not_listed(api: Api, connect: Connect) -> None:
    owner, guest = await api.account(), await api.account()
    room_id = (await private_room(api, owner))["room_id"]
    o, g = await connect(owner), await connect(guest)
    assert (await act(o, "invite", room_id, guest))["type"] == "invite_sent"
    assert len((await api.call("GET", "/api/v1/me/invites", token=guest.token)).json()["invites"]) == 1
    assert (await g.command({"type": "block", "user_id": owner.user_id}))["blocked"] is True
    assert (await api.call("GET", "/api/v1/me/invites", token=guest.token)).json()["invites"] == []


async def test_a_user_has_at_most_fifty_pending_invites(nursery: trio.Nursery, config: Config) -> None:
    server = await start_server(nursery, with_config(config, rate_limit_enabled=False))  # many rooms at once
    api, connect = Api(server), Connect(server, nursery)
    owner, guest = await api.account(), await api.account()
    o = await connect(owner)
    rooms = [(await private_room(api, owner, f"room {n}"))["room_id"] for n in range(INVITES_PER_USER + 1)]
    for room_id in rooms[:INVITES_PER_USER]:
        assert (await act(o, "invite", room_id, guest))["type"] == "invite_sent"
    refused(await act(o, "invite", rooms[-1], guest), "forbidden")
    assert (await act(o, "invite", rooms[0], guest))["type"] == "invite_sent", "renewed, not a second place"
    g = await connect(guest)
    assert (await g.command({"type": "decline_invite", "room_id": rooms[1]}))["type"] == "invite_declined"
    assert (await act(o, "invite", rooms[-1], guest))["type"] == "invite_sent"
    pending = (await api.call("GET", "/api/v1/me/invites", token=guest.token)).json()["invites"]
    assert len(pending) == INVITES_PER_USER and pending[0]["room"]["room_id"] == rooms[-1]
    await api.http.aclose()
    server.stop.set()


async def test_a_database_from_before_private_rooms_gains_them_and_keeps_its_rooms_public(
    nursery: trio.Nursery, config: Config
) -> None:
    async def as_before() -> None:
        for table in ("room_invites", "room_members", "private_rooms"):
            await Tortoise.get_connection("default").execute_script(f"DROP TABLE {table}")
        await RoomRow.create(id="oldroom", name="From before", created_by=None, created_at=1)

    async with open_database(config.db_url) as db:
        await db.call(as_before)
    server = await start_server(nursery, config)
    api, connect = Api(server), Connect(server, nursery)
    owner, anyone = await api.account(), await api.account()
    old = await api.call("GET", "/api/v1/rooms/oldroom", token=anyone.token)
    assert old.json()["room"]["visibility"] == "public"
    room_id = (await private_room(api, owner))["room_id"]
    assert room_id not in await listed(api, anyone)
    assert "oldroom" in await listed(api, anyone)
    refused(await join(await connect(anyone), room_id), "room_not_found")
    await api.http.aclose()
    server.stop.set()
