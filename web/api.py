"""The HTTP API under ``/api/v1``: rooms, presence and history (accounts: :mod:`web.accounts_api`)."""

from __future__ import annotations

import contextlib
from typing import Any

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue

from actors.block_lists import hide
from actors.messages import AnnounceRoom, GetMembers, GetOnline
from actors.ref import ActorGone, AskTimeout
from storage.database import RoomNameTaken, RoomQuotaReached
from storage.revisions import RevisionTables
from web import validation
from web.auth import current_user, json_body
from web.errors import ApiError
from web.openapi import describe
from web.room_pages import encode_cursor, room_paging
from web.schemas import (
    HistoryQuery,
    MessageList,
    NewRoom,
    RoomDetail,
    RoomPage,
    RoomReply,
    RoomsQuery,
    UserList,
)
from web.services import Services, services
from wire.shapes import User

api = Blueprint("api", __name__, url_prefix="/api/v1")

ASK_TIMEOUT = 5.0


@api.post("/rooms")
@describe(RoomReply, 201, body=NewRoom, errors=(400, 401, 409, 413, 429, 503))
async def create_room() -> ResponseReturnValue:
    svc = services()
    user = await current_user(svc)
    body = await json_body()
    name = validation.room_name(body.get("name"))
    visibility = body.get("visibility", "public")
    if visibility not in ("public", "private"):
        raise ApiError(400, "bad_request", 'visibility must be "public" or "private"')
    limits = svc.limits
    quota = None
    if limits.enabled:
        creations = limits.room_creations_by_user
        wait = await creations.take(user.user_id)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"you may create {creations.limit} rooms every {creations.window:g} s; try again in {wait} s",
                {"Retry-After": str(wait)},
            )
        quota = limits.rooms_per_user
    try:
        room = await svc.db.create_room(name, user.user_id, quota=quota, private=visibility == "private")
    except RoomQuotaReached as full:
        # No Retry-After: rooms are never deleted, so waiting frees no place.
        raise ApiError(
            429,
            "rate_limited",
            f"you have created {full.quota} rooms, the most one account may create; "
            "join an existing room instead",
        ) from None
    except RoomNameTaken as taken:
        holder = f"room {taken.holder!r}" if taken.holder else "another room"
        raise ApiError(
            409, "room_name_taken", f"{holder} already has this name (compared ignoring case and width)"
        ) from None
    svc.count("rooms_created")
    # Every session learns of it now, not at its next refresh of the list. One push per room
    # created: the creation rate and quota above bound it. A private room is nobody else's news.
    if not room.private:
        with contextlib.suppress(ActorGone):
            await svc.registry_ref.tell(AnnounceRoom(room))
    return jsonify({"room": room.to_wire()}), 201


@api.get("/rooms")
@describe(RoomPage, query=RoomsQuery, errors=(400, 401))
async def list_rooms() -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    after, limit = room_paging(request.args)
    rooms = await svc.db.list_rooms(after, limit + 1, viewer=me.user_id)
    page = rooms[:limit]
    more = len(rooms) > limit
    return jsonify(
        {
            "rooms": [r.to_wire() | {"online": svc.rooms.online_count(r.room_id)} for r in page],
            "next_cursor": encode_cursor(page[-1].created_at, page[-1].room_id) if more else None,
        }
    )


async def room_or_404(svc: Services, room_id: str, viewer: User) -> Any:
    """The room if ``viewer`` may see it; else 404, the same for a private room of others as for no room."""
    room = await svc.db.moderation.members.visible(room_id, viewer.user_id)
    if room is None:
        raise ApiError(404, "room_not_found", f"there is no room {room_id!r}")
    return room


@api.get("/rooms/<room_id>")
@describe(RoomDetail, errors=(401, 404))
async def get_room(room_id: str) -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    room = await room_or_404(svc, room_id, me)
    return jsonify({"room": room.to_wire() | {"online": svc.rooms.online_count(room_id)}})


@api.get("/rooms/<room_id>/online")
@describe(UserList, errors=(401, 404, 503))
async def room_online(room_id: str) -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    await room_or_404(svc, room_id, me)
    users: list[User] = []
    for _ in range(2):  # a room that stopped for idleness had nobody in it; one that started since may
        ref = svc.rooms.get(room_id)
        if ref is None:
            break
        try:
            users = await ref.ask(GetMembers, ASK_TIMEOUT)
            break
        except ActorGone:
            continue
        except AskTimeout:
            raise ApiError(503, "internal", "the room is busy; try again") from None
    return jsonify({"users": [u.to_wire() for u in users]})


@api.get("/online")
@describe(UserList, errors=(401, 503))
async def site_online() -> ResponseReturnValue:
    """Who is online site-wide, without the users who block the caller."""
    svc = services()
    me = await current_user(svc)
    hidden = frozenset() if svc.blocks is None else (await svc.blocks.relations(me.user_id)).blocked_by
    try:
        users = await svc.registry_ref.ask(GetOnline, ASK_TIMEOUT)
    except AskTimeout:
        raise ApiError(503, "internal", "the registry is busy; try again") from None
    return jsonify({"users": [u.to_wire() for u in hide(users, hidden)]})


@api.get("/rooms/<room_id>/messages")
@describe(MessageList, query=HistoryQuery, errors=(400, 401, 404))
async def room_messages(room_id: str) -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    before, limit = validation.paging(request.args)
    await room_or_404(svc, room_id, me)
    messages = await RevisionTables(svc.db).annotate(await svc.db.room_history(room_id, before, limit))
    return jsonify({"messages": [m.to_wire() for m in messages]})


@api.get("/private/<user_id>/messages")
@describe(MessageList, query=HistoryQuery, errors=(400, 401, 404))
async def private_messages(user_id: str) -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    before, limit = validation.paging(request.args)
    if await svc.db.get_user(user_id) is None:
        raise ApiError(404, "user_not_found", f"there is no user {user_id!r}")
    messages = await svc.db.private_history(me.user_id, user_id, before, limit)
    return jsonify({"messages": [m.to_wire() for m in messages]})
