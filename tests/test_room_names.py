"""Room names are unique, compared folded; a new room is pushed to every session at once.

Over real sockets, on SQLite, MariaDB and PostgreSQL alike (``db_url`` is
parametrised by backend, see conftest.py).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
from tortoise import Tortoise

from storage.database import open_database
from storage.models import RoomRow
from storage.room_names import StoredRoom, fold_room_name, plan_names, room_name_key
from tests.conftest import Api, Connect, Server, start_server
from web.config import Config

FULL_WIDTH_LOBBY = "\uff2c\uff2f\uff22\uff22\uff39"  # LOBBY in full-width letters


async def create(api: Api, token: str, name: str) -> tuple[int, dict[str, Any]]:
    answer = await api.call("POST", "/api/v1/rooms", token=token, json={"name": name})
    return answer.status_code, answer.json()


async def room_list(api: Api, token: str) -> list[dict[str, Any]]:
    answer = await api.call("GET", "/api/v1/rooms", token=token, params={"limit": 200})
    rooms: list[dict[str, Any]] = answer.json()["rooms"]
    return rooms


# --- the folded form, without a database ------------------------------------


@pytest.mark.parametrize(
    "spelling", ["Lobby", "lobby", "LOBBY", FULL_WIDTH_LOBBY, "  Lobby ", "lobby\u3000", "\u3164Lobby"]
)
def test_every_spelling_of_lobby_folds_to_one_key(spelling: str) -> None:
    assert fold_room_name(spelling) == "lobby"
    assert room_name_key(spelling) == room_name_key("Lobby")


def test_names_that_differ_in_more_than_case_width_or_spacing_stay_apart() -> None:
    assert room_name_key("Café") != room_name_key("Cafe")
    assert room_name_key("Café") == room_name_key("CAFE\u0301")  # composed or not, one name
    assert room_name_key("Straße") == room_name_key("STRASSE")  # case folding, not lower-casing
    assert room_name_key("tea  time") == room_name_key("Tea Time")
    assert room_name_key("teatime") != room_name_key("tea time")


def test_the_oldest_room_of_a_name_keeps_it_and_a_held_name_stays_held() -> None:
    rooms = [StoredRoom("a", "Chess"), StoredRoom("b", "CHESS"), StoredRoom("c", "Go")]
    plan = plan_names(rooms, {room_name_key("go"): "older"})
    assert plan.keys == {"a": room_name_key("chess"), "b": None, "c": None}
    assert plan.shadowed == [(rooms[1], "a"), (rooms[2], "older")]


# --- over HTTP ---------------------------------------------------------------


async def test_a_name_an_existing_room_has_is_refused_folded_with_409_room_name_taken(api: Api) -> None:
    alice, bob = await api.account(), await api.account()
    for name in ("Lobby", "lobby", FULL_WIDTH_LOBBY, " LOBBY "):  # the configured room counts too
        status, body = await create(api, alice.token, name)
        assert status == 409, (name, body)
        assert body["error"]["code"] == "room_name_taken"
        assert "'lobby'" in body["error"]["message"], "the message names the room that has the name"
    status, made = await create(api, alice.token, "Café")
    assert status == 201, made
    status, body = await create(api, bob.token, "CAFÉ")
    assert (status, body["error"]["code"]) == (409, "room_name_taken")
    assert made["room"]["room_id"] in body["error"]["message"]
    status, _ = await create(api, bob.token, "Cafe")
    assert status == 201, "an accent makes another name"
    names = sorted(r["name"] for r in await room_list(api, bob.token))
    assert names == ["Cafe", "Café", "Lobby"]


async def test_creations_of_one_name_at_once_make_exactly_one_room(api: Api) -> None:
    accounts = [await api.account() for _ in range(6)]
    spellings = ["Chess", "chess", "CHESS", "\uff23hess", " chess", "Chess "]
    statuses: list[int] = []

    async def attempt(token: str, name: str) -> None:
        statuses.append((await create(api, token, name))[0])

    async with trio.open_nursery() as racing:
        for account, name in zip(accounts, spellings, strict=True):
            racing.start_soon(attempt, account.token, name)
    assert sorted(statuses) == [201] + [409] * 5
    chess = [r for r in await room_list(api, accounts[0].token) if fold_room_name(r["name"]) == "chess"]
    assert len(chess) == 1


async def test_a_new_room_reaches_another_users_open_session_at_once(api: Api, connect: Connect) -> None:
    alice, bob = await api.account(), await api.account()
    watcher = await connect(bob)  # in no room at all
    creator = await connect(alice, join="lobby")
    status, body = await create(api, alice.token, "Garden")
    assert status == 201
    pushed = await watcher.expect("room_created")
    listed = {r["room_id"]: r for r in await room_list(api, bob.token)}
    assert pushed["room"] == listed[body["room"]["room_id"]] == {**body["room"], "online": 0}
    assert (await creator.expect("room_created"))["room"]["room_id"] == body["room"]["room_id"]


async def test_a_refused_name_pushes_nothing(api: Api, connect: Connect) -> None:
    alice = await api.account()
    watcher = await connect(alice)
    status, _ = await create(api, alice.token, "LOBBY")
    assert status == 409
    status, body = await create(api, alice.token, "Next")
    assert status == 201
    # Pushes leave in the order the rooms were made: the first one here is the second request's.
    assert (await watcher.expect("room_created"))["room"]["room_id"] == body["room"]["room_id"]


async def test_a_database_with_rooms_of_one_name_from_before_still_starts_and_keeps_them(
    config: Config, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    async def as_before() -> None:
        await Tortoise.get_connection("default").execute_script("DROP TABLE room_names")
        for order, (room_id, name) in enumerate([("aaa", "Chess"), ("bbb", "chess"), ("ccc", "Go")]):
            await RoomRow.create(id=room_id, name=name, created_by=None, created_at=order)

    async with open_database(config.db_url) as db:
        await db.call(as_before)
    with caplog.at_level(logging.WARNING, logger="storage.room_names"):
        server: Server = await start_server(nursery, config)
    api = Api(server)
    alice = await api.account()
    assert {r["room_id"] for r in await room_list(api, alice.token)} >= {"aaa", "bbb", "ccc"}
    assert "bbb by aaa" in caplog.text
    status, body = await create(api, alice.token, "CHESS")
    assert (status, body["error"]["code"]) == (409, "room_name_taken")
    assert "'aaa'" in body["error"]["message"], "the oldest room of the name keeps it"
    status, _ = await create(api, alice.token, "go")
    assert status == 409
    await api.http.aclose()
    server.stop.set()
