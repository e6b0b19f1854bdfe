"""Staying signed in: the refresh cookie and the remembered rooms, over real sockets.

A login sets an HttpOnly, SameSite=Strict cookie for ``/api/v1/session``
only, stored as a hash; ``POST /api/v1/session/refresh`` trades it for a
token and a new cookie once, and a secret used again ends the login with
every token it gave out; a logout ends it and clears the cookie. The rooms
a user joins are remembered for their next login, and a user who never
joined one is sent to the lobby.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import jwt
import trio

from storage.models import RefreshCredentialRow
from tests.conftest import Account, Api, Connect, Server, start_server, with_config
from tests.test_moderation import act, new_room
from web.config import Config

COOKIE = "chat_refresh"
CSRF = {"X-Requested-With": "tests"}


class Browser:
    """One cookie jar, as a browser keeps it: what the server set, sent back only under its path."""

    def __init__(self, server: Server) -> None:
        self.http = httpx.AsyncClient(base_url=server.http, timeout=10)

    async def log_in(
        self, account: Account, password: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        answer = await self.http.post(
            "/api/v1/login",
            json={"username": account.username, "password": password or account.password},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        return answer

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get(COOKIE)

    async def exchange(self, cookie: str | None = None, headers: dict[str, str] = CSRF) -> httpx.Response:
        """``POST /session/refresh`` with the jar's cookie, or with ``cookie`` (an old copy) instead."""
        if cookie is None:
            return await self.http.post("/api/v1/session/refresh", headers=headers)
        kept = list(self.http.cookies.jar)
        self.http.cookies.clear()
        try:
            return await self.http.post(
                "/api/v1/session/refresh", headers={**headers, "Cookie": f"{COOKIE}={cookie}"}
            )
        finally:
            self.http.cookies.clear()
            for jarred in kept:
                self.http.cookies.jar.set_cookie(jarred)

    async def aclose(self) -> None:
        await self.http.aclose()


def attributes(answer: httpx.Response) -> dict[str, str]:
    """The refresh cookie's ``Set-Cookie`` attributes, names lower-cased (``value`` holds its value)."""
    (header,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    first, *rest = [part.strip() for part in header.split(";")]
    found = {"value": first.partition("=")[2].strip('"')}
    for part in rest:
        name, _, value = part.partition("=")
        found[name.lower()] = value
    return found


async def me(api: Api, token: str) -> int:
    return (await api.call("GET", "/api/v1/me", token=token)).status_code


def sid(token: str) -> Any:
    return jwt.decode(token, options={"verify_signature": False}).get("sid")


async def test_a_login_sets_a_script_proof_cookie_for_the_session_path_and_stores_only_its_hash(
    api: Api, server: Server
) -> None:
    account = await api.account()
    browser = Browser(server)
    answer = await browser.log_in(account)
    cookie = attributes(answer)
    assert {"httponly", "samesite", "path", "max-age"} <= set(cookie)
    assert cookie["samesite"] == "Strict" and cookie["path"] == "/api/v1/session"
    assert int(cookie["max-age"]) == 30 * 86400  # auth.max_session_days
    assert "secure" not in cookie  # plain http on localhost: a Secure cookie would never come back
    family_id, _, secret = cookie["value"].partition(".")
    assert sid(answer.json()["token"]) == family_id

    async def rows() -> list[dict[str, Any]]:
        return await RefreshCredentialRow.filter(family_id=family_id).values()

    (row,) = await server.running.services.db.call(rows)
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in row.values())
    await browser.aclose()


def lifetime(answer: httpx.Response) -> int:
    """The token's own lifetime, checked against the ``expires_in`` announced beside it."""
    body = answer.json()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    return int(body["expires_in"])


async def test_a_pages_tokens_are_short_lived_and_stay_short_when_refreshed(api: Api, server: Server) -> None:
    """A page renews from its HttpOnly cookie, so its scripts never hold a token for a day."""
    account = await api.account()
    browser = Browser(server)
    assert lifetime(await browser.log_in(account)) == 86400  # an API client's login: auth.token_ttl
    page = await browser.log_in(account, headers=CSRF)  # the web client's: auth.page_token_ttl
    assert lifetime(page) == 900
    renewed = await api.call("POST", "/api/v1/refresh", token=page.json()["token"])
    assert lifetime(renewed) == 900
    assert lifetime(await browser.exchange()) == 900
    assert lifetime(await api.call("POST", "/api/v1/refresh", token=account.token)) == 86400
    await browser.aclose()


async def test_the_cookie_is_exchanged_once_and_a_secret_used_again_ends_the_login(
    api: Api, server: Server
) -> None:
    account = await api.account()
    browser = Browser(server)
    login_token = (await browser.log_in(account)).json()["token"]
    first = browser.cookie
    assert first is not None

    refused = await browser.exchange(headers={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await browser.exchange(cookie="0" * 32 + ".forged")).status_code == 401

    answer = await browser.exchange()
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == account.user and await me(api, answer.json()["token"]) == 200
    second = browser.cookie
    assert second not in (None, first)
    # A tab that sent the old secret at the same moment gets a token, and no cookie to replace the new one.
    at_once = await browser.exchange(cookie=first)
    assert at_once.status_code == 200 and not at_once.headers.get_list("set-cookie")
    assert browser.cookie == second

    assert (await browser.exchange()).status_code == 200  # second -> third
    third = browser.cookie
    stolen = await browser.exchange(cookie=first)  # neither the current secret nor the one it replaced
    assert stolen.status_code == 401
    assert attributes(stolen)["max-age"] == "0"
    assert (await browser.exchange(cookie=third)).status_code == 401  # the whole login is over
    assert await me(api, login_token) == 401 and await me(api, answer.json()["token"]) == 401
    assert await me(api, account.token) == 200  # a login of its own (no cookie used) is untouched

    # A secret replaced longer ago than the grace is refused the same way.
    await browser.log_in(account)
    old = browser.cookie
    assert (await browser.exchange()).status_code == 200

    async def age() -> None:
        await RefreshCredentialRow.filter(user_id=account.user_id).update(rotated_at=0)

    await server.running.services.db.call(age)
    assert (await browser.exchange(cookie=old)).status_code == 401
    assert (await browser.exchange()).status_code == 401
    await browser.aclose()


async def test_logging_out_ends_the_browser_login_and_clears_its_cookie(api: Api, server: Server) -> None:
    account = await api.account()
    browser = Browser(server)
    token = (await browser.log_in(account)).json()["token"]
    other_tab = (await browser.exchange()).json()["token"]
    cookie = browser.cookie
    out = await browser.http.post("/api/v1/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    assert attributes(out)["max-age"] == "0" and attributes(out)["path"] == "/api/v1/session"
    assert browser.cookie is None
    assert (await browser.exchange(cookie=cookie)).status_code == 401
    assert await me(api, other_tab) == 401  # every tab of that browser is signed out

    # Logging out everywhere and changing the password end every browser login of the user.
    token = (await browser.log_in(account)).json()["token"]
    elsewhere = Browser(server)
    await elsewhere.log_in(account)
    assert (await api.call("POST", "/api/v1/logout-all", token=token)).status_code == 204
    assert (await elsewhere.exchange()).status_code == 401
    token = (await elsewhere.log_in(account)).json()["token"]
    change = {"old_password": account.password, "new_password": "another long secret"}
    changed = await elsewhere.http.post(
        "/api/v1/password", json=change, headers={"Authorization": f"Bearer {token}"}
    )
    assert changed.status_code == 200, changed.text
    assert (await browser.exchange(cookie=attributes(changed)["value"])).status_code == 200
    await browser.log_in(account, "another long secret")
    await browser.aclose()
    await elsewhere.aclose()


async def test_behind_https_the_cookie_is_secure_and_exchanges_are_throttled_per_address(
    nursery: trio.Nursery, config: Config
) -> None:
    server = await start_server(
        nursery, with_config(config, public_origin="https://chat.example.org", session_refreshes=2)
    )
    api, browser = Api(server), Browser(server)
    account = await api.account()
    assert "secure" in attributes(await browser.log_in(account))
    cookie = attributes(await browser.log_in(account))["value"]
    # httpx keeps a Secure cookie for https only: send it by hand, as a browser would over https.
    statuses = [(await browser.exchange(cookie=cookie)).status_code for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    refused = await browser.exchange(cookie=cookie)
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    await browser.aclose()
    await api.http.aclose()
    server.stop.set()


async def rooms_of(api: Api, account: Account) -> dict[str, Any]:
    answer = await api.call("GET", "/api/v1/me/rooms", token=account.token)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return {"rooms": [room["room_id"] for room in body["rooms"]], "remembered": body["remembered"]}


async def test_joined_rooms_are_remembered_for_the_next_login_and_a_newcomer_lands_in_the_lobby(
    api: Api, connect: Connect, server: Server
) -> None:
    account = await api.account()
    assert await rooms_of(api, account) == {"rooms": ["lobby"], "remembered": False}
    created = await api.call("POST", "/api/v1/rooms", token=account.token, json={"name": "Greenhouse"})
    garden = created.json()["room"]["room_id"]

    peer = await connect(account, join="lobby")
    assert (await peer.command({"type": "join", "room_id": garden}))["type"] == "joined"
    assert (await peer.command({"type": "join", "room_id": "nowhere"}))["code"] == "room_not_found"
    assert (await peer.command({"type": "leave", "room_id": "lobby"}))["type"] == "left"
    assert await rooms_of(api, account) == {"rooms": [garden], "remembered": True}  # not written yet
    await peer.ws.aclose()  # a disconnect is not a leave

    joined_rooms = server.running.services.joined_rooms
    assert joined_rooms is not None
    await joined_rooms.flush()
    assert joined_rooms.writes == 1
    assert await rooms_of(api, account) == {"rooms": [garden], "remembered": True}  # from the database
    # Another process's older change does not undo a newer one.
    await server.running.services.db.remembered_rooms.write({(account.user_id, "lobby"): (True, 1)})
    assert await rooms_of(api, account) == {"rooms": [garden], "remembered": True}

    peer = await connect(account, join=garden)
    assert (await peer.command({"type": "leave", "room_id": garden}))["type"] == "left"
    await joined_rooms.flush()
    # Having left every room is not being new: no lobby is suggested.
    assert await rooms_of(api, account) == {"rooms": [], "remembered": True}


async def test_a_room_the_user_is_banned_from_is_not_offered_for_the_next_login(
    api: Api, connect: Connect
) -> None:
    owner, guest = await api.account(), await api.account()
    room = await new_room(api, owner, "strict")
    g = await connect(guest, join=room)
    assert room in (await rooms_of(api, guest))["rooms"]
    o = await connect(owner)
    assert (await act(o, "ban", room, guest))["type"] == "moderated"
    await g.expect("kicked")
    assert room not in (await rooms_of(api, guest))["rooms"], "its join would only be refused"
    assert (await act(o, "unban", room, guest))["type"] == "moderated"
    assert room in (await rooms_of(api, guest))["rooms"], "the user never left it"
