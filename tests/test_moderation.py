"""Moderation: roles, kick, mute, ban, the moderation log, site administrators and deactivated accounts.

Over real sockets against a real server; every test that stores something
runs on SQLite and, through the ``db_url`` fixture's parameters, on MariaDB
(``mariadb`` marker) and PostgreSQL (``postgres`` marker) too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.moderation import Level, Moderation, refusal
from storage.interface import ModerationAction, SiteRoles
from tests.conftest import Account, Api, Connect, Peer, start_server, with_config
from tests.test_logout import closed_with
from web import operators
from web.config import Config
from web.server import main
from wire.shapes import User


async def new_room(api: Api, owner: Account, name: str = "moderated") -> str:
    answer = await api.call("POST", "/api/v1/rooms", token=owner.token, json={"name": name})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["room"]["room_id"])


async def act(peer: Peer, action: str, room_id: str, target: Account, **more: Any) -> dict[str, Any]:
    return await peer.command({"type": action, "room_id": room_id, "user_id": target.user_id, **more})


def refused(reply: dict[str, Any], code: str) -> None:
    assert (reply["type"], reply.get("code")) == ("error", code), reply


async def history(api: Api, who: Account, room_id: str) -> list[str]:
    answer = await api.call("GET", f"/api/v1/rooms/{room_id}/messages", token=who.token)
    assert answer.status_code == 200, answer.text
    return [m["content"] for m in answer.json()["messages"]]


def test_levels_decide_who_may_act_on_whom() -> None:
    roles = Moderation()
    roles.owner_id, roles.admins = "owner", {"admin"}
    assert roles.level("owner") is Level.OWNER and roles.level("admin") is Level.ADMIN
    assert roles.level("anyone", SiteRoles(frozenset({"anyone"}))) is Level.OWNER
    assert roles.level("boss", SiteRoles(rooms_owner="boss")) is Level.MEMBER, (
        "a created room's owner is its creator"
    )
    roles.owner_id = None  # a configured room
    assert roles.level("boss", SiteRoles(rooms_owner="boss")) is Level.OWNER
    roles.owner_id = "owner"
    assert refusal("kick", Level.MEMBER, Level.MEMBER) is not None
    assert refusal("kick", Level.ADMIN, Level.ADMIN) is not None, "nobody acts on their own level"
    assert refusal("ban", Level.ADMIN, Level.OWNER) is not None
    assert refusal("mute", Level.ADMIN, Level.MEMBER) is None
    assert refusal("grant_admin", Level.ADMIN, Level.MEMBER) is not None, "only the owner grants admin"
    assert refusal("revoke_admin", Level.OWNER, Level.ADMIN) is None
    assert refusal("revoke_admin", Level.OWNER, Level.OWNER) is not None
    banned = ModerationAction("r", "ban", User("owner", "o"), User("admin", "a"), 0, until=1_000)
    roles.apply(banned)
    assert "admin" not in roles.admins, "a ban takes admin away"
    assert roles.ban_of("admin", 999) is not None and roles.ban_of("admin", 1_000) is None
    assert roles.next_end() == 1_000
    assert [(kind, s.user.user_id) for kind, s in roles.expire(1_000)] == [("ban", "admin")]
    assert roles.next_end() is None


async def test_nobody_acts_on_an_equal_or_higher_level(api: Api, connect: Connect) -> None:
    owner, admin, member = await api.account(), await api.account(), await api.account()
    room = await new_room(api, owner)
    o = await connect(owner, join=room)
    a = await connect(admin, join=room)
    m = await connect(member, join=room)
    granted = await act(o, "grant_admin", room, admin)
    assert granted == {
        "type": "moderated",
        "action": "grant_admin",
        "room_id": room,
        "user": admin.user,
        "ref": granted["ref"],
    }
    refused(await act(m, "kick", room, admin), "forbidden")  # a member cannot kick an admin
    refused(await act(a, "kick", room, owner), "forbidden")  # an admin cannot kick the owner
    refused(await act(a, "grant_admin", room, member), "forbidden")  # only the owner grants admin
    refused(await act(a, "mute", room, admin), "forbidden")  # nor act on their own level
    refused(await o.command({"type": "kick", "room_id": room, "user_id": "0" * 16}), "user_not_found")
    refused(await act(o, "kick", "no-such-room", member), "room_not_found")
    refused(await act(o, "mute", room, member, duration=0), "bad_request")
    refused(await act(o, "kick", room, member, until=1), "bad_request")
    refused(await act(o, "mute", room, member, until=1), "bad_request")  # in the past
    assert (await act(a, "kick", room, member, reason="off topic"))["type"] == "moderated"
    revoked = await act(o, "revoke_admin", room, admin)
    assert revoked["type"] == "moderated"
    refused(await act(a, "mute", room, owner), "forbidden")
    assert (await m.command({"type": "join", "room_id": room}))["type"] == "joined", "a kick is no ban"


async def test_a_muted_users_post_is_refused_and_not_stored(api: Api, connect: Connect) -> None:
    owner, member = await api.account(), await api.account()
    room = await new_room(api, owner)
    o = await connect(owner, join=room)
    m = await connect(member, join=room)
    muted = await act(o, "mute", room, member, reason="flooding")
    assert muted["type"] == "moderated" and muted["until"] is None
    notice = await m.expect("system", event="mute")
    assert notice["user"] == member.user and notice["actor"] == owner.user and notice["reason"] == "flooding"
    reply = await m.command({"type": "group", "room_id": room, "content": "let me speak"})
    refused(reply, "muted")
    assert reply["until"] is None
    await o.command({"type": "group", "room_id": room, "content": "you can still read"})
    assert (await m.expect("group"))["content"] == "you can still read"
    assert await history(api, owner, room) == ["you can still read"], "the refused post is stored nowhere"
    assert (await act(o, "unmute", room, member))["type"] == "moderated"
    assert (await m.command({"type": "group", "room_id": room, "content": "thanks"}))["type"] == "ack"


async def test_a_mute_ends_by_itself(api: Api, connect: Connect) -> None:
    owner, member = await api.account(), await api.account()
    room = await new_room(api, owner)
    o = await connect(owner, join=room)
    m = await connect(member, join=room)
    asked = time.time() * 1000
    until = (await act(o, "mute", room, member, duration=1))["until"]  # from when the room takes it
    assert asked - 1 + 1000 <= until <= time.time() * 1000 + 1000  # now_ms() is whole ms
    refused(await m.command({"type": "group", "room_id": room, "content": "too soon"}), "muted")
    ended = await m.expect("system", event="unmute")  # the room's timer, no fixed sleep here
    assert ended["actor"] is None and ended["user"] == member.user
    assert time.time() * 1000 >= until
    assert (await m.command({"type": "group", "room_id": room, "content": "at last"}))["type"] == "ack"


async def test_a_banned_user_is_kicked_and_cannot_join_until_unbanned(api: Api, connect: Connect) -> None:
    owner, member, watcher = await api.account(), await api.account(), await api.account()
    room = await new_room(api, owner)
    o = await connect(owner, join=room)
    w = await connect(watcher, join=room)
    m = await connect(member, join=room)
    await w.expect("system", event="join")
    assert (await act(o, "ban", room, member, reason="spam", duration=3600))["type"] == "moderated"
    kicked = await m.expect("kicked")
    assert kicked["room_id"] == room and kicked["banned"] is True and kicked["reason"] == "spam"
    assert kicked["until"] > time.time() * 1000 + 3_000_000
    ban = await w.recv()
    assert (ban["type"], ban["event"], ban["user"], ban["actor"]) == (
        "system",
        "ban",
        member.user,
        owner.user,
    )
    assert (await w.recv())["event"] == "leave"
    refused(await m.command({"type": "group", "room_id": room, "content": "still here?"}), "not_in_room")
    again = await m.command({"type": "join", "room_id": room})
    refused(again, "banned")
    assert again["until"] == kicked["until"]
    assert (await act(o, "unban", room, member))["type"] == "moderated"
    assert (await m.command({"type": "join", "room_id": room})).get("type") == "joined"


async def test_a_kick_removes_every_session_and_the_room_sees_it_in_order(api: Api, connect: Connect) -> None:
    owner, member, watcher = await api.account(), await api.account(), await api.account()
    room = await new_room(api, owner)
    o = await connect(owner, join=room)
    w = await connect(watcher, join=room)
    phone, desk = await connect(member, join=room), await connect(member, join=room)
    await w.expect("system", event="join", user=member.user)
    await o.command({"type": "group", "room_id": room, "content": "before"})
    assert (await act(o, "kick", room, member, reason="rude"))["type"] == "moderated"
    await o.command({"type": "group", "room_id": room, "content": "after"})
    seen = [await w.recv() for _ in range(4)]
    assert [f.get("content") if f["type"] == "group" else f["event"] for f in seen] == [
        "before",
        "kick",
        "leave",
        "after",
    ]
    assert seen[1]["actor"] == owner.user and seen[1]["reason"] == "rude" and seen[1]["user"] == member.user
    for session in (phone, desk):
        told = await session.expect("kicked")
        assert told == {
            "type": "kicked",
            "room_id": room,
            "actor": owner.user,
            "reason": "rude",
            "banned": False,
        }
    online = await o.command({"type": "online", "room_id": room})
    assert member.user not in online["users"]
    refused(await act(o, "kick", room, member), "not_in_room")


async def test_the_moderation_log_lists_actions_for_admins_and_403_for_members(
    api: Api, connect: Connect
) -> None:
    owner, admin, member = await api.account(), await api.account(), await api.account()
    room = await new_room(api, owner)
    o = await connect(owner)
    await act(o, "grant_admin", room, admin)
    await act(o, "mute", room, member, duration=60, reason="calm down")
    await act(o, "unmute", room, member)

    async def log(who: Account, **query: Any) -> Any:
        return await api.call("GET", f"/api/v1/rooms/{room}/moderation", token=who.token, params=query)

    answer = await log(admin)
    assert answer.status_code == 200, answer.text
    actions = answer.json()["actions"]
    assert [a["action"] for a in actions] == ["unmute", "mute", "grant_admin"]
    mute = actions[1]
    assert (mute["actor"], mute["user"], mute["reason"]) == (owner.user, member.user, "calm down")
    assert mute["until"] - mute["timestamp"] == 60_000
    first = (await log(owner, limit=2)).json()
    assert len(first["actions"]) == 2 and first["next_before"] == first["actions"][-1]["id"]
    rest = (await log(owner, limit=2, before=first["next_before"])).json()
    assert [a["action"] for a in rest["actions"]] == ["grant_admin"] and rest["next_before"] is None
    denied = await log(member)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    missing = await api.call("GET", "/api/v1/rooms/nowhere/moderation", token=owner.token)
    assert missing.status_code == 404


async def test_site_administrators_and_the_configured_owner_moderate_configured_rooms(
    nursery: trio.Nursery, config: Config
) -> None:
    boss_name = "boss_of_the_lobby"
    server = await start_server(nursery, with_config(config, rooms_owner=boss_name))
    api, connect = Api(server), Connect(server, nursery)
    boss, helper, member = await api.account(boss_name), await api.account(), await api.account()
    b, h = await connect(boss, join="lobby"), await connect(helper, join="lobby")
    await connect(member, join="lobby")
    refused(await act(h, "mute", "lobby", member), "forbidden")
    assert (await act(b, "grant_admin", "lobby", helper))["type"] == "moderated"
    assert (await act(h, "mute", "lobby", member))["type"] == "moderated"
    assert (await operators.run(server.config, "make-admin", helper.username)) == (helper.username, True)
    refused(
        await act(b, "kick", "lobby", helper), "forbidden"
    )  # a site administrator is at the owner's level
    room = await new_room(api, member, "member's own")
    assert (await act(h, "grant_admin", room, boss))["type"] == "moderated", "and acts as owner everywhere"
    await api.http.aclose()
    server.stop.set()


async def test_a_deactivated_account_cannot_log_in_and_its_sessions_close(
    nursery: trio.Nursery, config: Config
) -> None:
    server = await start_server(nursery, with_config(config, deactivation_check=0.05))
    api, connect = Api(server), Connect(server, nursery)
    gone, friend = await api.account(), await api.account()
    peer = await connect(gone, join="lobby")
    f = await connect(friend, join="lobby")
    await peer.command({"type": "group", "room_id": "lobby", "content": "my last words"})
    assert await operators.run(server.config, "deactivate", gone.username) == (gone.username, True)
    assert await closed_with(peer) == 1008
    credentials = {"username": gone.username, "password": gone.password}
    login = await api.call("POST", "/api/v1/login", json=credentials)
    assert login.status_code == 403 and login.json()["error"]["code"] == "deactivated"
    assert (await api.call("GET", "/api/v1/me", token=gone.token)).status_code == 401
    assert "my last words" in await history(api, friend, "lobby"), "its messages stay"
    assert (await f.command({"type": "ping"}))["type"] == "pong"
    assert await operators.run(server.config, "deactivate", gone.username) == (gone.username, False)
    await api.http.aclose()
    server.stop.set()


async def test_make_admin_and_deactivate_are_chat_server_subcommands(
    api: Api, config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = await api.account()
    settings = tmp_path / "operator.toml"
    settings.write_text(f'[storage]\ndb_url = "{config.db_url}"\n', encoding="utf-8")

    async def run(*argv: str) -> int:
        try:  # in a thread: main() runs its own Trio loop, as on the command line
            await trio.to_thread.run_sync(main, ["--config", str(settings), *argv])
        except SystemExit as done:
            return int(done.code or 0)
        raise AssertionError("main() returns through SystemExit")

    assert await run("make-admin", account.username.upper()) == 0  # named as at login
    assert f"made {account.username} a site administrator" in capsys.readouterr().out
    assert await run("make-admin", account.username) == 0
    assert "already" in capsys.readouterr().out
    assert await run("deactivate", "nobody_at_all") == 1
    assert "there is no account 'nobody_at_all'" in capsys.readouterr().err
