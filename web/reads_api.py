"""The HTTP side of read markers: unread counts, the conversation list, and finding a user by name.

A client that reloads, or opens on another device, reads here what its
badges and tabs were: ``GET /api/v1/conversations`` (the caller's private
conversations, newest first, each with its peer, last message and unread
count) and ``GET /api/v1/unread`` (counts per room and per conversation).
Markers a session moved in the last second may not be written yet
(:mod:`actors.read_markers` coalesces them): those pending in this process
are added to what is stored, so a client sees its own marks at once.
``GET /api/v1/users/lookup`` turns a username into a user id, so that a
conversation can be started with someone who is not online.
"""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue

from storage.dialects import NUL
from web.auth import current_user
from web.errors import ApiError
from web.openapi import describe
from web.read_schemas import (
    CONVERSATIONS_DEFAULT,
    CONVERSATIONS_MAX,
    UNREAD_IDS_MAX,
    ConversationPage,
    ConversationsQuery,
    LookupQuery,
    Unread,
    UnreadQuery,
)
from web.room_pages import decode_cursor, encode_cursor
from web.schemas import UserReply
from web.services import Services, services
from web.validation import USERNAME_MAX, bad_request

reads = Blueprint("reads", __name__, url_prefix="/api/v1")

_ID_MAX = 64


def _limit(raw: str | None) -> int:
    if raw is None:
        return CONVERSATIONS_DEFAULT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= CONVERSATIONS_MAX:
        raise bad_request(f"limit must be an integer from 1 to {CONVERSATIONS_MAX}")
    return int(raw)


def _ids(name: str, raw: str | None) -> list[str] | None:
    """A comma-separated list of ids from the query string, in order, each once; None when absent."""
    if raw is None:
        return None
    ids = list(dict.fromkeys(raw.split(",")))
    if len(raw.split(",")) > UNREAD_IDS_MAX or not all(0 < len(i) <= _ID_MAX for i in ids):
        raise bad_request(
            f"{name} must be at most {UNREAD_IDS_MAX} comma-separated ids of 1 to {_ID_MAX} characters"
        )
    return ids


def _pending(svc: Services, user_id: str) -> tuple[dict[str, int], dict[str, int]]:
    markers = svc.read_markers
    if markers is None:
        return {}, {}
    return markers.pending_rooms(user_id), markers.pending_peers(user_id)


@reads.get("/conversations")
@describe(ConversationPage, query=ConversationsQuery, errors=(400, 401))
async def list_conversations() -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    limit = _limit(request.args.get("limit"))
    cursor = request.args.get("cursor")
    after = None if cursor is None else decode_cursor(cursor)
    found = await svc.db.reads.conversations(me.user_id, after, limit + 1)
    page = found[:limit]
    _, pending = _pending(svc, me.user_id)
    markers = {c.peer.user_id: max(c.last_read, pending.get(c.peer.user_id, 0)) for c in page}
    _, counts = await svc.db.reads.unread_counts({}, markers, me.user_id)
    more = len(found) > limit
    return jsonify(
        {
            "conversations": [
                {
                    "peer": c.peer.to_wire(),
                    "last_message": None if c.last_message is None else c.last_message.to_wire(),
                    "last_read": markers[c.peer.user_id],
                    "unread": counts[c.peer.user_id],
                }
                for c in page
            ],
            "next_cursor": encode_cursor(page[-1].last_message_id, page[-1].peer.user_id) if more else None,
        }
    )


@reads.get("/unread")
@describe(Unread, query=UnreadQuery, errors=(400, 401))
async def unread() -> ResponseReturnValue:
    svc = services()
    me = await current_user(svc)
    room_ids = _ids("rooms", request.args.get("rooms"))
    peer_ids = _ids("peers", request.args.get("peers")) or []
    pending_rooms, pending_peers = _pending(svc, me.user_id)
    # An id holding U+0000 names nothing (ids are ours) and PostgreSQL refuses it as a parameter.
    askable_rooms = None if room_ids is None else [r for r in room_ids if NUL not in r]
    stored_rooms = await svc.db.reads.room_markers(me.user_id, askable_rooms, UNREAD_IDS_MAX)
    if room_ids is None:
        room_ids = sorted(set(stored_rooms) | set(pending_rooms))[:UNREAD_IDS_MAX]
    room_marks = {r: max(stored_rooms.get(r, 0), pending_rooms.get(r, 0)) for r in room_ids}
    stored_peers = await svc.db.reads.peer_markers(me.user_id, [p for p in peer_ids if NUL not in p])
    peer_marks = {p: max(stored_peers.get(p, (0, 0))[1], pending_peers.get(p, 0)) for p in peer_ids}
    # A private room the caller is not a member of counts nothing: its activity is its members' business.
    hidden = await svc.db.moderation.members.private_among(
        [r for r in room_marks if NUL not in r], me.user_id
    )
    rooms_counted, peers_counted = await svc.db.reads.unread_counts(
        {r: n for r, n in room_marks.items() if NUL not in r and r not in hidden},
        {p: n for p, n in peer_marks.items() if p in stored_peers},
        me.user_id,
    )
    return jsonify(
        {
            "rooms": [
                {"room_id": r, "last_read": room_marks[r], "unread": rooms_counted.get(r, 0)}
                for r in room_ids
            ],
            "conversations": [
                {"peer_id": p, "last_read": peer_marks[p], "unread": peers_counted.get(p, 0)}
                for p in peer_ids
            ],
        }
    )


@reads.get("/users/lookup")
@describe(UserReply, query=LookupQuery, errors=(400, 401, 404, 429, 503))
async def lookup_user() -> ResponseReturnValue:
    """One exact name, one user id: no listing, no prefix search, nothing but the public ``user`` shape."""
    svc = services()
    user = await current_user(svc)
    name = request.args.get("username")
    if name is None or not 0 < len(name) <= USERNAME_MAX:
        raise bad_request(f"username must be 1 to {USERNAME_MAX} characters")
    if svc.limits.enabled:
        lookups = svc.limits.user_lookups_by_user
        wait = await lookups.take(user.user_id)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"you may look up {lookups.limit} names every {lookups.window:g} s; try again in {wait} s",
                {"Retry-After": str(wait)},
            )
    found = await svc.db.find_login(name)
    if found is None:
        raise ApiError(404, "user_not_found", "there is no user of that name")
    return jsonify({"user": found[0].to_wire()})
