"""What a browser needs to pick a login up again: the refresh cookie's exchange, and the rooms to rejoin.

``POST /api/v1/session/refresh`` trades the refresh cookie set at login
(:mod:`web.refresh_cookie`) for a login answer and a new cookie, so that a
new tab, or the browser after a restart, is signed in without the password
and without any script ever holding the long-lived secret. It is throttled
per client address like registration, and needs the
:data:`web.refresh_cookie.CSRF_HEADER` header.

``GET /api/v1/me/rooms`` lists the rooms the user joined and has not left
(:mod:`actors.joined_rooms` keeps them), which the client rejoins after a
login; a user who never joined a room is pointed at the first configured
room (the lobby), where a first login lands.
"""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue

from web.accounts_api import browser_logins, served_securely_here, token_answer
from web.auth import client_address, current_user, throttled
from web.errors import ApiError
from web.openapi import REFRESH_COOKIE_SET, SESSION_REFRESH, describe
from web.refresh_cookie import (
    COOKIE,
    CSRF_HEADER,
    CookieSettings,
    RefreshRefused,
    cleared,
    cookie_header,
    csrf_refused,
)
from web.schemas import RememberedRoomList, Token
from web.services import Services, services

session = Blueprint("session", __name__, url_prefix="/api/v1")

REMEMBERED_MAX = 100
"""Rooms ``/me/rooms`` lists at most, the most recently joined first: what a client rejoins at once."""


@session.post("/session/refresh")
@describe(Token, errors=(401, 403, 429, 503), extra=SESSION_REFRESH | REFRESH_COOKIE_SET)
async def refresh_session() -> ResponseReturnValue:
    """Exchange the refresh cookie for a token and a new cookie (the old secret serves no more).

    401 (and the cookie cleared) for a missing, unknown, expired or ended
    login, and for a secret that was already exchanged: that ends the login,
    every token it gave out included, since a second copy of the cookie
    exists. The secret replaced less than 10 s ago is the exception: tabs
    restored at once send it together, and each gets a token (no new cookie).
    """
    svc = services()
    if not request.headers.get(CSRF_HEADER):
        raise csrf_refused()
    if svc.limits.enabled:
        wait = await svc.limits.session_refreshes_by_address.take(client_address(svc))
        if wait is not None:
            raise throttled(wait, "too many session refreshes from your address")
    logins = browser_logins(svc)
    try:
        refreshed = await logins.refresh(request.cookies.get(COOKIE))
    except RefreshRefused:
        raise _signed_out(svc, "no browser login to pick up (logged out, expired or ended); log in") from None
    user = await svc.db.get_user(refreshed.user_id)
    answer = None
    if user is not None:
        answer = await token_answer(
            user, logged_in_at=refreshed.logged_in_at, session_id=refreshed.session_id, page=True
        )
        if not await svc.revocations.accepts(svc.tokens.verify(str(answer["token"]))):
            answer = None
    if answer is None:  # the account was deleted, deactivated or is refused otherwise: this login is over
        await logins.end_login(refreshed.session_id, refreshed.user_id)
        raise _signed_out(svc, "this account can no longer log in here; log in again")
    svc.count("session_refreshes")
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    if refreshed.value is not None:
        settings = CookieSettings(served_securely_here(svc), refreshed.max_age)
        response.headers["Set-Cookie"] = cookie_header(refreshed.value, settings)
    return response


def _signed_out(svc: Services, message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"Set-Cookie": cleared(served_securely_here(svc))})


@session.get("/me/rooms")
@describe(RememberedRoomList, errors=(401,))
async def my_rooms() -> ResponseReturnValue:
    """The rooms to rejoin after a login: those the user joined and has not left, newest join first.

    ``remembered`` is false for a user who never joined a room: ``rooms``
    then holds the first configured room (the lobby), where a first login
    lands.
    """
    svc = services()
    user = await current_user(svc)
    pending = svc.joined_rooms.pending_of(user.user_id) if svc.joined_rooms is not None else {}
    stored, ever = await svc.db.remembered_rooms.of_user(user.user_id, REMEMBERED_MAX + len(pending))
    joined = dict(stored)
    for room_id, (now_joined, at) in pending.items():
        if at < joined.get(room_id, 0):
            continue  # another process wrote a newer change
        if now_joined:
            joined[room_id] = at
        else:
            joined.pop(room_id, None)
    ids = sorted(joined, key=lambda room_id: (-joined[room_id], room_id))[:REMEMBERED_MAX]
    remembered = ever or bool(pending)
    if not remembered and svc.config.rooms:
        ids = [svc.config.rooms[0].room_id]
    rooms = await svc.db.remembered_rooms.rooms(ids)
    members = svc.db.moderation.members
    hidden = await members.private_among(list(rooms), user.user_id)  # removed or banned since
    hidden |= await members.banned_among(list(rooms), user.user_id)  # a join there is refused anyway
    ids = [i for i in ids if i not in hidden]
    return jsonify({"rooms": [rooms[i].to_wire() for i in ids if i in rooms], "remembered": remembered})
