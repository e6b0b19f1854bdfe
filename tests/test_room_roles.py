"""``GET /api/v1/rooms/{room_id}/roles``: who moderates a room, the caller's level, and for moderators the sanctions.

Over real sockets against a real server, on SQLite, MariaDB and PostgreSQL
(the ``db_url`` fixture's parameters).
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Account, Api, Connect
from tests.test_moderation import act, new_room
from tests.test_private_rooms import private_room


async def roles_of(api: Api, who: Account | None, room_id: str) -> Any:
    answer = await api.call("GET", f"/api/v1/rooms/{room_id}/roles", token=None if who is None else who.token)
    return answer


async def test_every_member_reads_the_levels_and_only_moderators_the_sanctions(
    api: Api, connect: Connect
) -> None:
    owner, admin, member, other = [await api.account() for _ in range(4)]
    room = await new_room(api, owner)
    o = await connect(owner)
    assert (await act(o, "grant_admin", room, admin))["type"] == "moderated"
    assert (await act(o, "mute", room, member, duration=600))["type"] == "moderated"
    assert (await act(o, "ban", room, other, reason="spam"))["type"] == "moderated"

    seen = await roles_of(api, member, room)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["room_id"], body["owner"], body["admins"]) == (room, owner.user, [admin.user])
    assert (body["you"], body["sanctions"]) == ("member", None), "a member is not shown who is muted"

    as_admin = (await roles_of(api, admin, room)).json()
    assert as_admin["you"] == "admin"
    sanctions = {(s["kind"], s["user"]["user_id"]): s["until"] for s in as_admin["sanctions"]}
    assert set(sanctions) == {("mute", member.user_id), ("ban", other.user_id)}
    assert sanctions[("ban", other.user_id)] is None and isinstance(sanctions[("mute", member.user_id)], int)
    assert {s["user"]["username"] for s in as_admin["sanctions"]} == {member.username, other.username}
    assert (await roles_of(api, owner, room)).json()["you"] == "owner"

    assert (await act(o, "revoke_admin", room, admin))["type"] == "moderated"
    assert (await act(o, "unmute", room, member))["type"] == "moderated"
    after = (await roles_of(api, owner, room)).json()
    assert after["admins"] == [] and [s["kind"] for s in after["sanctions"]] == ["ban"]
    assert (await roles_of(api, admin, room)).json()["you"] == "member"


async def test_a_configured_room_without_an_owner_and_the_refusals(api: Api) -> None:
    member = await api.account()
    lobby = (await roles_of(api, member, "lobby")).json()
    assert (lobby["owner"], lobby["admins"], lobby["you"]) == (None, [], "member")
    missing = await roles_of(api, member, "nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "room_not_found"
    assert (await roles_of(api, None, "lobby")).status_code == 401


async def test_a_private_rooms_roles_are_its_members_business_only(api: Api) -> None:
    owner, outsider = await api.account(), await api.account()
    room = (await private_room(api, owner))["room_id"]
    assert (await roles_of(api, owner, room)).json()["you"] == "owner"
    hidden = await roles_of(api, outsider, room)
    assert hidden.status_code == 404, "the same answer as for a room that does not exist"
    assert hidden.json()["error"] == {"code": "room_not_found", "message": f"there is no room {room!r}"}
