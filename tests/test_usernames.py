"""Usernames nobody can mistake for another, and room names without hidden characters.

Look-alikes are written as escapes: a Cyrillic "a" typed literally would be
indistinguishable from the Latin one in this very file.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import trio

from storage.database import open_database, username_key
from storage.models import UserRow
from storage.passwords import Passwords
from storage.usernames import legacy_key, precis_key
from tests.conftest import Api, start_server
from web.config import Config, ConfigError, load_config

PASSWORD = "long enough"

CYRILLIC_ALICE = "\u0430lice"  # Cyrillic small a, then Latin "lice"
FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
BOLD_ALICE = "\U0001d41alice"  # MATHEMATICAL BOLD SMALL A
HANGUL_FILLERS = "\u3164\u3164\u3164"
ZALGO_A = "a" + "\u0301" * 31


async def register(api: Api, username: str, password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
    r = await api.call("POST", "/api/v1/register", json={"username": username, "password": password})
    return r.status_code, r.json()


async def login(api: Api, username: str, password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
    r = await api.call("POST", "/api/v1/login", json={"username": username, "password": password})
    return r.status_code, r.json()


def refusal(body: dict[str, Any]) -> str:
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "bad_request", body
    return str(error["message"])


# ----------------------------------------------------------------- usernames


@pytest.mark.parametrize(
    ("username", "advice"),
    [
        (CYRILLIC_ALICE, "write the name in one script"),
        (FULL_WIDTH_ALICE, "not full-width or styled"),
        (BOLD_ALICE, "not full-width or styled"),
        (HANGUL_FILLERS, "invisible"),
        (ZALGO_A, "combining marks"),
        ("...", "at least one letter or digit"),
        ("-", "at least one letter or digit"),
        ("_", "at least one letter or digit"),
    ],
    ids=[
        "cyrillic-a",
        "full-width",
        "math-bold",
        "hangul-filler",
        "31-accents",
        "dots",
        "dash",
        "underscore",
    ],
)
async def test_a_look_alike_or_invisible_username_is_refused_with_advice(
    api: Api, username: str, advice: str
) -> None:
    status, body = await register(api, username)
    assert status == 400 and advice in refusal(body)


async def test_a_cyrillic_alice_is_refused_even_when_nobody_is_called_alice(api: Api) -> None:
    status, body = await register(api, CYRILLIC_ALICE)
    assert status == 400 and "Latin" in refusal(body)
    status, _ = await login(api, "alice")
    assert status == 401, "the refused name must not have been stored under any key"
    status, _ = await register(api, "alice")
    assert status == 201


@pytest.mark.parametrize(
    "username",
    [
        "张三",
        "alice_01",
        "José",
        "Jose\u0301",  # typed decomposed: stored as José
        "Ольга",
        "محمد",
        "محمد_01",
        "हिन्दी",
        "ज़िंदगी",  # nukta, vowel sign and anusvara on one consonant
        "日本語",
        "たなか太郎",
        "김민수",
        "Ελένη",
        "Nguyễn.Văn-A",
    ],
)
async def test_ordinary_names_in_every_script_register_and_log_in(api: Api, username: str) -> None:
    status, body = await register(api, username)
    assert status == 201, body
    user = body["user"]
    assert isinstance(user, dict)
    status, body = await login(api, username)
    assert status == 200 and body["user"] == user


async def test_names_that_differ_only_in_case_or_width_are_one_account(api: Api) -> None:
    status, body = await register(api, "alice")
    assert status == 201
    status, taken = await register(api, "ALICE")
    assert status == 409 and taken["error"] == {
        "code": "username_taken",
        "message": "the username 'ALICE' is taken; choose another",
    }
    for typed in ("ALICE", "Alice", FULL_WIDTH_ALICE):
        status, logged_in = await login(api, typed)
        assert status == 200 and logged_in["user"] == body["user"], typed


def test_username_key_is_the_precis_case_mapped_form_and_never_raises() -> None:
    assert username_key("ALICE") == username_key("alice") == username_key(FULL_WIDTH_ALICE) == "alice"
    assert username_key("Jose\u0301") == username_key("JOSÉ") == "jos\u00e9"
    assert username_key("Straße") == "straße", "RFC 8265 lower-cases; it does not fold ß to ss"
    assert username_key("张三") == "张三"
    assert username_key(CYRILLIC_ALICE) != username_key("alice")
    # The ASCII shortcut gives exactly what the profile gives.
    assert precis_key("Alice_01.x-Y") == "alice_01.x-y"
    # Login passes any string: what the profile refuses gets the old key, the same every time.
    for refused in (BOLD_ALICE, HANGUL_FILLERS, "a b", "", "\x00", "\ud800", "\u202e" * 128, "ǅ" * 128):
        assert precis_key(refused) is None
        assert username_key(refused) == username_key(refused) == legacy_key(refused)
    assert username_key("X" * 128) == "x" * 128


# -------------------------------------------------------- accounts from before


async def _store_the_old_way(db_url: str, rows: list[tuple[str, str]]) -> None:
    """Write accounts as the server did before PRECIS: key = NFC + case folding."""
    passwords = Passwords(1)
    hashes = [await passwords.hash(password) for _, password in rows]

    async def insert() -> None:
        for order, ((name, _), password_hash) in enumerate(zip(rows, hashes, strict=True)):
            await UserRow.create(
                id=secrets.token_hex(8),
                username=name,
                username_key=legacy_key(name),
                password_hash=password_hash,
                created_at=order,
            )

    async with open_database(db_url) as db:
        await db.call(insert)


async def test_accounts_stored_before_precis_keep_logging_in_and_stay_unique(
    config: Config, nursery: trio.Nursery
) -> None:
    await _store_the_old_way(
        config.db_url,
        [
            ("Straße", "street pass"),
            ("\uff22\uff4f\uff42", "bob's password"),  # a full-width Bob, nobody else
            (FULL_WIDTH_ALICE, "fake alice pw"),  # a look-alike pair: the plain one keeps "alice"
            ("alice", "real alice pw"),
        ],
    )
    server = await start_server(nursery, config)
    api = Api(server)
    try:
        status, street = await login(api, "STRAßE", "street pass")
        assert status == 200 and street["user"]["username"] == "Straße"
        status, _ = await register(api, "bob")
        assert status == 409, "the full-width Bob now holds the key bob"
        status, bob = await login(api, "Bob", "bob's password")
        assert status == 200 and bob["user"]["username"] == "\uff22\uff4f\uff42"
        status, real = await login(api, "alice", "real alice pw")
        assert status == 200 and real["user"]["username"] == "alice"
        status, fake = await login(api, FULL_WIDTH_ALICE, "fake alice pw")
        assert status == 200 and fake["user"]["username"] == FULL_WIDTH_ALICE
        status, _ = await login(api, "alice", "fake alice pw")
        assert status == 401, "the plain name means the plain account"
    finally:
        await api.http.aclose()


# ---------------------------------------------------------------- room names


@pytest.mark.parametrize(
    "name",
    [
        "a\x00b",
        "two\nlines",
        "tab\there",
        "\u202eevil.exe",
        "zero\u200bwidth",
        "lob\u200dby",
        "\ufeffbom",
        "line\u2028separator",
        "para\u2029separator",
        "\u3164",
        "",
        "   ",
    ],
    ids=["nul", "newline", "tab", "rlo", "zwsp", "zwj", "bom", "ls", "ps", "filler", "empty", "blank"],
)
async def test_a_room_name_with_a_control_or_format_character_is_refused(api: Api, name: str) -> None:
    owner = await api.account()
    r = await api.call("POST", "/api/v1/rooms", token=owner.token, json={"name": name})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "name",
    [
        "General",
        "café ☕",
        "🎉 launch party",
        "👩\u200d💻 devs",  # a zero-width joiner inside an emoji is part of it
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f fans",  # Scotland's flag
        "日本語の部屋",
        "Ελληνικά",
    ],
)
async def test_ordinary_room_names_with_emoji_are_accepted(api: Api, name: str) -> None:
    owner = await api.account()
    r = await api.call("POST", "/api/v1/rooms", token=owner.token, json={"name": name})
    assert r.status_code == 201 and r.json()["room"]["name"] == name


def test_a_configured_room_name_with_a_bidi_override_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[rooms]]\nid = "lobby"\nname = "Lobby\\u202e"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rooms\[0\]: name must not contain control"):
        load_config(path)
