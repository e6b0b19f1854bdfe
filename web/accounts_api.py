"""Accounts over HTTP: register, log in, who am I, log out (here or everywhere), change the password.

A login (and a password change) also starts a browser login behind a
refresh cookie (:mod:`web.refresh_cookie`), whose id the token carries;
a logout ends it and clears the cookie, logout everywhere and a password
change end every one of the user's.

Both public endpoints cost a deliberately slow password hash, so both are
throttled before they hash (:mod:`web.login_throttle`; registrations per
client address), take bodies of at most :data:`AUTH_BODY_MAX` bytes, and
are refused with 429 when the queue of hashes waiting for a worker is full
(:class:`storage.passwords.PasswordsBusy`), rather than waiting behind it.
"""

from __future__ import annotations

import time

from quart import Blueprint, Response, jsonify, request
from quart.typing import ResponseReturnValue

from actors.messages import CloseUserSessions
from actors.session import LOGGED_OUT
from storage.database import UsernameTaken, username_key
from storage.passwords import PasswordsBusy
from web import validation
from web.auth import client_address, current_claims, current_user, json_body, throttled
from web.errors import ApiError
from web.login_throttle import LoginThrottled
from web.openapi import REFRESH_COOKIE_CLEARED, REFRESH_COOKIE_SET, describe
from web.refresh_cookie import (
    CSRF_HEADER,
    BrowserLogins,
    CookieSettings,
    cleared,
    cookie_header,
    served_securely,
)
from web.schemas import Credentials, PasswordChange, Registration, Token, UserReply
from web.services import Services, services
from wire import close_codes
from wire.shapes import User

accounts = Blueprint("accounts", __name__, url_prefix="/api/v1")

AUTH_BODY_MAX = 2048
"""A username and a password fit, even with every character escaped (``\\ud83d\\ude00`` is 12 bytes)."""

BUSY_RETRY_AFTER = 1


def _busy() -> ApiError:
    return throttled(BUSY_RETRY_AFTER, "the server is checking too many passwords at once")


def _taken(name: str) -> ApiError:
    return ApiError(409, "username_taken", f"the username {name!r} is taken; choose another")


@accounts.post("/register")
@describe(UserReply, 201, body=Registration, errors=(400, 409, 413, 429, 503), public=True)
async def register() -> ResponseReturnValue:
    svc = services()
    limits = svc.limits
    address = client_address(svc)
    if limits.enabled:
        wait = await limits.register_by_address.take(address)
        if wait is not None:
            raise throttled(wait, "too many registrations from your address")
    body = await json_body(AUTH_BODY_MAX)
    name = validation.username(body.get("username"))
    secret = validation.password(body.get("password"))
    if await svc.db.find_login(name) is not None:
        raise _taken(name)
    try:
        password_hash = await svc.passwords.hash(secret)
    except PasswordsBusy:
        raise _busy() from None
    try:
        user = await svc.db.create_user(name, password_hash)
    except UsernameTaken:
        raise _taken(name) from None
    svc.count("users_registered")
    return jsonify({"user": user.to_wire()}), 201


@accounts.post("/login")
@describe(
    Token, body=Credentials, errors=(400, 401, 403, 413, 429, 503), public=True, extra=REFRESH_COOKIE_SET
)
async def login() -> ResponseReturnValue:
    svc = services()
    limits = svc.limits
    address = client_address(svc)
    try:
        body = await json_body(AUTH_BODY_MAX)
    except ApiError:
        svc.count("logins_malformed")
        if limits.enabled:
            await limits.login.count_malformed(address)
        raise
    name = body.get("username")
    secret = body.get("password")
    if not isinstance(name, str) or not isinstance(secret, str) or not name or not secret:
        raise validation.bad_request("username and password must be non-empty strings")
    if len(name) > 4 * validation.USERNAME_MAX or len(secret) > validation.PASSWORD_MAX:
        # Nothing that long was ever registered; refuse before any hashing.
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    attempt = None
    if limits.enabled:
        try:
            attempt = await limits.login.admit(username_key(name), address)
        except LoginThrottled as refused:
            svc.count("logins_throttled")
            raise throttled(refused.retry_after, refused.why) from None
    found = await svc.db.find_login(name)
    try:
        ok = await svc.passwords.verify(found[1] if found else None, secret)
    except PasswordsBusy:
        if attempt is not None:
            await limits.login.release(attempt)  # not checked, so not a failure
        raise _busy() from None
    if not ok or found is None:
        svc.count("logins_failed")
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    user = found[0]
    if attempt is not None:
        await limits.login.succeeded(attempt)
    if await svc.db.operators.is_deactivated(user.user_id):  # told only to who knows the password
        raise ApiError(403, "deactivated", "this account was deactivated by an operator; it cannot log in")
    svc.count("logins")
    return await _signed_in(user)


async def _signed_in(user: User) -> Response:
    """The login answer, its token part of a new browser login whose refresh cookie it sets."""
    svc = services()
    session_id, value, max_age = await browser_logins(svc).start(user.user_id)
    page = bool(request.headers.get(CSRF_HEADER))  # the web client's login: a short token
    response = jsonify(await token_answer(user, session_id=session_id, page=page))
    response.headers["Set-Cookie"] = cookie_header(value, CookieSettings(served_securely_here(svc), max_age))
    response.headers["Cache-Control"] = "no-store"
    return response


def browser_logins(svc: Services) -> BrowserLogins:
    return BrowserLogins(
        svc.db.credentials.refresh,
        svc.revocations,
        max_session_days=svc.config.max_session_days,
        token_ttl=svc.tokens.ttl,
    )


def served_securely_here(svc: Services) -> bool:
    return served_securely(svc.config.public_origin, request.scheme)


async def token_answer(
    user: User, *, logged_in_at: int | None = None, session_id: str | None = None, page: bool = False
) -> dict[str, object]:
    """The login answer: a token of the user's current generation (a page's lives ``auth.page_token_ttl``)."""
    svc = services()
    generation = await svc.revocations.generation(user.user_id)
    token = svc.tokens.issue(user, generation, logged_in_at=logged_in_at, session_id=session_id, page=page)
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_in": svc.tokens.lifetime(page=page),
        "user": user.to_wire(),
    }


@accounts.get("/me")
@describe(UserReply, errors=(401,))
async def me() -> ResponseReturnValue:
    user = await current_user(services())
    return jsonify({"user": user.to_wire()})


@accounts.post("/refresh")
@describe(Token, errors=(401,))
async def refresh() -> ResponseReturnValue:
    """A new token for a valid one, so that a client renews before expiry without logging in again.

    The new token keeps the login's time: past ``auth.max_session_days``
    after it, refreshing is refused (401) and the user logs in again. The
    old token stays valid until it expires (another tab may hold it).
    """
    svc = services()
    user, claims = await current_claims(svc)
    if time.time() - claims.logged_in_at > svc.config.max_session_days * 86400:
        raise ApiError(401, "unauthorized", "this login is too old to refresh; log in again")
    svc.count("token_refreshes")
    answer = await token_answer(
        user, logged_in_at=claims.logged_in_at, session_id=claims.session_id, page=claims.page
    )
    return jsonify(answer)


@accounts.post("/logout")
@describe(status=204, errors=(401,), extra=REFRESH_COOKIE_CLEARED)
async def logout() -> ResponseReturnValue:
    """Refuse this token from now on and close the sockets opened with it (4401).

    A token of a browser login (``sid``) ends that login too: its refresh
    cookie is refused and cleared, and every other token it gave out (the
    browser's other tabs) is refused.
    """
    svc = services()
    user, claims = await current_claims(svc)
    await svc.revocations.revoke(claims)
    if claims.session_id is not None:
        await browser_logins(svc).end_login(claims.session_id, user.user_id)
    await svc.registry_ref.tell(
        CloseUserSessions(user.user_id, claims.token_id, close_codes.TOKEN_EXPIRED, LOGGED_OUT)
    )
    svc.count("logouts")
    return "", 204, {"Set-Cookie": cleared(served_securely_here(svc))}


@accounts.post("/logout-all")
@describe(status=204, errors=(401,), extra=REFRESH_COOKIE_CLEARED)
async def logout_all() -> ResponseReturnValue:
    """Refuse every token of the user issued so far and close all their sockets (4401)."""
    svc = services()
    user = await current_user(svc)
    await _end_every_session(user)
    svc.count("logouts_everywhere")
    return "", 204, {"Set-Cookie": cleared(served_securely_here(svc))}


@accounts.post("/password")
@describe(Token, body=PasswordChange, errors=(400, 401, 403, 413, 429, 503), extra=REFRESH_COOKIE_SET)
async def change_password() -> ResponseReturnValue:
    """Check the old password (throttled like a login), store the new one, end every session.

    Every token of the user is refused afterwards, the caller's included, and
    every socket of theirs is closed with 4401; the answer carries a new token,
    as a login does, so the caller goes on without typing the password again.
    """
    svc = services()
    limits = svc.limits
    user = await current_user(svc)
    body = await json_body(AUTH_BODY_MAX)
    old, new = body.get("old_password"), body.get("new_password")
    if not isinstance(old, str) or not old:
        raise validation.bad_request("old_password must be a non-empty string")
    new = validation.password(new)
    attempt = None
    if limits.enabled:
        try:
            attempt = await limits.login.admit(username_key(user.username), client_address(svc))
        except LoginThrottled as refused:
            raise throttled(refused.retry_after, refused.why) from None
    found = await svc.db.find_login(user.username)
    try:
        ok = (
            found is not None
            and found[0].user_id == user.user_id
            and await svc.passwords.verify(found[1], old)
        )
        password_hash = await svc.passwords.hash(new) if ok else ""
    except PasswordsBusy:
        if attempt is not None:
            await limits.login.release(attempt)
        raise _busy() from None
    if not ok:
        raise ApiError(403, "forbidden", "old_password is not the current password")
    if attempt is not None:
        await limits.login.succeeded(attempt)
    await svc.db.credentials.set_password_hash(user.user_id, password_hash)
    await _end_every_session(user)
    svc.count("password_changes")
    return await _signed_in(user)


async def _end_every_session(user: User) -> None:
    svc = services()
    await svc.revocations.revoke_all(user.user_id)
    await browser_logins(svc).end_all(user.user_id)
    await svc.registry_ref.tell(CloseUserSessions(user.user_id, None, close_codes.TOKEN_EXPIRED, LOGGED_OUT))
