"""U+0000 is an ordinary character of the protocol on every database.

A message may hold it, and a login name, room id or user id holding it is
simply unknown. PostgreSQL's text types refuse the character outright, so
these tests are the ones that tell its storage apart from SQLite's and
MariaDB's; they run on each (``-m postgres``, ``-m mariadb``).
"""

from __future__ import annotations

import pytest

from storage.dialects import storable_text, stored_text
from tests.conftest import Api, Connect

ESCAPE = "\uffff"


async def test_a_message_holding_a_nul_character_is_stored_and_read_back_as_sent(
    api: Api, connect: Connect
) -> None:
    alice, bob = await api.account(), await api.account()
    a = await connect(alice, join="lobby")
    contents = ["nul \x00 inside", f"escape {ESCAPE}0 is not a nul", f"{ESCAPE}{ESCAPE}\x00", "plain"]
    for content in contents:
        ack = await a.command({"type": "group", "room_id": "lobby", "content": content})
        assert ack["type"] == "ack", ack
    ack = await a.command({"type": "private", "target_id": bob.user_id, "content": "\x00"})
    assert ack["type"] == "ack", ack
    r = await api.call("GET", "/api/v1/rooms/lobby/messages", token=alice.token)
    assert [m["content"] for m in r.json()["messages"]] == contents
    r = await api.call("GET", f"/api/v1/private/{alice.user_id}/messages", token=bob.token)
    assert [m["content"] for m in r.json()["messages"]] == ["\x00"]


async def test_a_nul_character_in_a_login_name_room_id_or_user_id_finds_nothing(
    api: Api, connect: Connect
) -> None:
    alice = await api.account()
    r = await api.call("POST", "/api/v1/login", json={"username": "ali\x00ce", "password": alice.password})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = await api.call("GET", "/api/v1/rooms/lob%00by", token=alice.token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "room_not_found"
    r = await api.call("GET", "/api/v1/private/a%00b/messages", token=alice.token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"
    a = await connect(alice)
    assert (await a.command({"type": "join", "room_id": "lob\x00by"}))["code"] == "room_not_found"
    private = {"type": "private", "target_id": "a\x00b", "content": "hi"}
    assert (await a.command(private))["code"] == "user_not_found"
    assert (await a.command({"type": "ping"}))["type"] == "pong", "the session is still open"


@pytest.mark.parametrize(
    "text",
    ["", "plain", "\x00", "\x00\x00", ESCAPE, ESCAPE + "0", "0" + ESCAPE, ESCAPE + "\x00" + ESCAPE * 3],
)
def test_postgres_text_holds_no_nul_and_reads_back_as_written_while_other_dialects_store_it_as_is(
    text: str,
) -> None:
    kept = storable_text("postgres", text)
    assert "\x00" not in kept and stored_text("postgres", kept) == text
    assert kept == text or "\x00" in text or ESCAPE in text, "only a message holding one of the two changes"
    for dialect in ("sqlite", "mysql"):
        assert storable_text(dialect, text) == text and stored_text(dialect, text) == text
