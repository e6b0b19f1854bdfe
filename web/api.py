"""The HTTP API under ``/api/v1``: accounts, rooms, presence and history."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue

from actors.frames import decode_json
from actors.messages import GetMembers, GetOnline
from actors.ref import AskTimeout
from storage.database import UsernameTaken
from storage.interface import User
from web import validation
from web.errors import ApiError
from web.services import Services, services
from web.tokens import InvalidToken

api = Blueprint("api", __name__, url_prefix="/api/v1")

ASK_TIMEOUT = 5.0


async def json_body() -> dict[str, Any]:
    raw: bytes = await request.get_data(as_text=False)  # type: ignore[assignment]
    try:
        body = decode_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise validation.bad_request(f"the body must be a JSON object: {exc}") from None
    if not isinstance(body, dict):
        raise validation.bad_request("the body must be a JSON object")
    return body


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(svc: Services, token: str | None) -> tuple[User, int]:
    """The token's user and expiry, or ApiError 401."""
    unauthorized = ApiError(401, "unauthorized", "a valid bearer token is required; log in again")
    if token is None:
        raise unauthorized
    try:
        claims = svc.tokens.verify(token)
    except InvalidToken:
        raise unauthorized from None
    user = await svc.db.get_user(claims.user_id)
    if user is None:
        raise unauthorized
    return user, claims.expires_at


async def current_user(svc: Services) -> User:
    user, _ = await authenticate(svc, bearer_token(request.headers.get("Authorization")))
    return user


def _throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"too many attempts; try again in {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


def _address() -> str:
    return request.remote_addr or "unknown"


@api.post("/register")
async def register() -> ResponseReturnValue:
    svc = services()
    limits = svc.limits
    address = _address()
    if limits.enabled:
        wait = limits.register_by_address.retry_after(address)
        if wait is not None:
            raise _throttled(wait)
        limits.register_by_address.record(address)
    body = await json_body()
    name = validation.username(body.get("username"))
    secret = validation.password(body.get("password"))
    if await svc.db.find_login(name) is not None:
        raise ApiError(409, "username_taken", f"the username {name!r} is taken; choose another")
    password_hash = await svc.passwords.hash(secret)
    try:
        user = await svc.db.create_user(name, password_hash)
    except UsernameTaken:
        raise ApiError(409, "username_taken", f"the username {name!r} is taken; choose another") from None
    svc.count("users_registered")
    return jsonify({"user": user.to_wire()}), 201


@api.post("/login")
async def login() -> ResponseReturnValue:
    svc = services()
    limits = svc.limits
    body = await json_body()
    name = body.get("username")
    secret = body.get("password")
    if not isinstance(name, str) or not isinstance(secret, str) or not name or not secret:
        raise validation.bad_request("username and password must be non-empty strings")
    if len(name) > 4 * validation.USERNAME_MAX or len(secret) > validation.PASSWORD_MAX:
        # Nothing that long was ever registered; refuse before any hashing.
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    user_key = name.casefold()
    address = _address()
    if limits.enabled:
        waits = [
            w
            for w in (
                limits.login_by_user.retry_after(user_key),
                limits.login_by_address.retry_after(address),
            )
            if w is not None
        ]
        if waits:
            raise _throttled(max(waits))
    found = await svc.db.find_login(name)
    ok = await svc.passwords.verify(found[1] if found else None, secret)
    if not ok or found is None:
        if limits.enabled:
            limits.login_by_user.record(user_key)
            limits.login_by_address.record(address)
        svc.count("logins_failed")
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    user = found[0]
    limits.login_by_user.reset(user_key)
    svc.count("logins")
    return jsonify(
        {
            "token": svc.tokens.issue(user),
            "token_type": "Bearer",
            "expires_in": svc.tokens.ttl,
            "user": user.to_wire(),
        }
    )


@api.get("/me")
async def me() -> ResponseReturnValue:
    user = await current_user(services())
    return jsonify({"user": user.to_wire()})


@api.post("/rooms")
async def create_room() -> ResponseReturnValue:
    svc = services()
    user = await current_user(svc)
    body = await json_body()
    name = validation.room_name(body.get("name"))
    room = await svc.db.create_room(name, user.user_id)
    svc.count("rooms_created")
    return jsonify({"room": room.to_wire()}), 201


@api.get("/rooms")
async def list_rooms() -> ResponseReturnValue:
    svc = services()
    await current_user(svc)
    rooms = await svc.db.list_rooms()
    return jsonify({"rooms": [r.to_wire() | {"online": svc.rooms.online_count(r.room_id)} for r in rooms]})


async def _room_or_404(svc: Services, room_id: str) -> Any:
    room = await svc.db.get_room(room_id)
    if room is None:
        raise ApiError(404, "room_not_found", f"there is no room {room_id!r}")
    return room


@api.get("/rooms/<room_id>")
async def get_room(room_id: str) -> ResponseReturnValue:
    svc = services()
    await current_user(svc)
    room = await _room_or_404(svc, room_id)
    return jsonify({"room": room.to_wire() | {"online": svc.rooms.online_count(room_id)}})


@api.get("/rooms/<room_id>/online")
async def room_online(room_id: str) -> ResponseReturnValue:
    svc = services()
    await current_user(svc)
    await _room_or_404(svc, room_id)
    ref = svc.rooms.get(room_id)
    users: list[User] = []
    if ref is not None:
        try:
            users = await ref.ask(GetMembers, ASK_TIMEOUT)
        except AskTimeout:
            raise ApiError(503, "internal", "the room is busy; try again") from None
    return jsonify({"users": [u.to_wire() for u in users]})


@api.get("/online")
async def site_online() -> ResponseReturnValue:
    svc = services()
    await current_user(svc)
    try:
        users = await svc.registry_ref.ask(GetOnline, ASK_TIMEOUT)
    except AskTimeout:
        raise ApiError(503, "internal", "the registry is busy; try again") from None
    return jsonify({"users": [u.to_wire() for u in users]})


@api.get("/rooms/<room_id>/messages")
async def room_messages(room_id: str) -> ResponseReturnValue:
    svc = services()
    await current_user(svc)
    before, limit = validation.paging(request.args)
    await _room_or_404(svc, room_id)
    messages = await svc.db.room_history(room_id, before, limit)
    return jsonify({"messages": [m.to_wire() for m in messages]})


@api.get("/private/<user_id>/messages")
async def private_messages(user_id: str) -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    before, limit = validation.paging(request.args)
    if await svc.db.get_user(user_id) is None:
        raise ApiError(404, "user_not_found", f"there is no user {user_id!r}")
    messages = await svc.db.private_history(me.user_id, user_id, before, limit)
    return jsonify({"messages": [m.to_wire() for m in messages]})
