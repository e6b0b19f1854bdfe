"""The frames the server sends: JSON events encoded once, as complete WebSocket frames.

A server's frames are never masked, so the bytes of one event are the same
for every receiver: a room builds a message's frame once and every member's
outbox holds the same :class:`OutFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wire import moderation
from wire.clock import now_ms
from wire.commands import Ref
from wire.frames import PING, text_frame
from wire.shapes import RoomInfo, StoredMessage, User
from wire.strict_json import to_json


@dataclass(frozen=True, slots=True)
class OutFrame:
    """One outgoing frame, ready for every receiver.

    ``wire`` is the whole RFC 6455 frame (for chat, a text frame holding the
    JSON). A server's frames are never masked, so those bytes are the same for
    every member of a room: a broadcast builds them once, and the writer only
    concatenates what a session has queued into one socket write.
    """

    wire: bytes


PING_FRAME = OutFrame(PING)
"""A WebSocket ping with no payload, queued like any other frame (see :mod:`actors.heartbeat`)."""


def encode(obj: dict[str, Any]) -> OutFrame:
    """One outgoing frame; every payload is serialised once, however many receive it."""
    return OutFrame(text_frame(to_json(obj).encode()))


def with_ref(obj: dict[str, Any], ref: Ref) -> dict[str, Any]:
    if ref is not None:
        obj["ref"] = ref
    return obj


def error_frame(code: str, message: str, ref: Ref = None) -> OutFrame:
    return encode(with_ref({"type": "error", "code": code, "message": message}, ref))


# The events of the contract, one function each ----------------------------------


def message(stored: StoredMessage) -> OutFrame:
    """A ``group`` or ``private`` message, as every receiver gets it."""
    return encode(stored.to_wire())


def ack(stored: StoredMessage, ref: Ref, *, delivered: bool | None = None) -> OutFrame:
    """The sender's acknowledgement: the message is stored. ``delivered`` only for private messages."""
    reply: dict[str, Any] = {"type": "ack", "id": stored.id, "timestamp": stored.timestamp}
    if delivered is not None:
        reply["delivered"] = delivered
    return encode(with_ref(reply, ref))


def joined(room: dict[str, Any], users: list[User], ref: Ref, recovery: Recovery | None = None) -> OutFrame:
    """The reply to ``join``: the room (its wire shape) and its online users, the joiner included.

    With ``recovery`` (a join with ``since``) it also carries the messages missed.
    """
    reply: dict[str, Any] = {"type": "joined", "room": room, "users": [u.to_wire() for u in users]}
    if recovery is not None:
        recovery.add_to(reply)
    return encode(with_ref(reply, ref))


@dataclass(frozen=True, slots=True)
class Recovery:
    """Messages after the client's ``since``.

    ``recovered``: these are all of them. ``truncated``: more were missed
    than the limit, these are the newest. Neither: the history could not be
    read just now (the client reads it over HTTP instead).
    """

    messages: list[StoredMessage]
    recovered: bool
    truncated: bool = False
    revised: list[StoredMessage] = field(default_factory=list)
    """Older messages (``id <= since``) edited or deleted since: shown as they are now (wire.revisions)."""

    def add_to(self, reply: dict[str, Any]) -> None:
        reply["messages"] = [m.to_wire() for m in self.messages]
        reply["recovered"] = self.recovered
        if self.truncated:
            reply["truncated"] = True
        if self.revised:
            reply["revised"] = [m.to_wire() for m in self.revised]


def synced(recovery: Recovery, ref: Ref) -> OutFrame:
    """The reply to ``sync``: the private messages to or from the user after ``since``."""
    reply: dict[str, Any] = {"type": "synced"}
    recovery.add_to(reply)
    return encode(with_ref(reply, ref))


def refreshed(expires_in: int, ref: Ref) -> OutFrame:
    """The reply to ``refresh``: seconds until the session's new token expires (as login's ``expires_in``)."""
    return encode(with_ref({"type": "refreshed", "expires_in": expires_in}, ref))


def read_marker(
    up_to: int, ref: Ref = None, *, room_id: str | None = None, peer_id: str | None = None
) -> OutFrame:
    """A read marker as it stands now: the reply to ``read`` (with its ``ref``), and the event to the user's other sessions."""
    reply: dict[str, Any] = {"type": "read_marker"}
    if room_id is not None:
        reply["room_id"] = room_id
    else:
        reply["peer_id"] = peer_id
    reply["up_to"] = up_to
    return encode(with_ref(reply, ref))


def block_changed(user: User, blocked: bool, ref: Ref = None) -> OutFrame:
    """Whether ``user`` is on the block list now: the reply to ``block``/``unblock``, and the event to the other sessions."""
    return encode(with_ref({"type": "block_changed", "user": user.to_wire(), "blocked": blocked}, ref))


def left(room_id: str, ref: Ref) -> OutFrame:
    return encode(with_ref({"type": "left", "room_id": room_id}, ref))


def online(users: list[User], ref: Ref, *, room_id: str | None = None) -> OutFrame:
    """The reply to ``online``: site-wide, or of one room when ``room_id`` is given."""
    reply: dict[str, Any] = {"type": "online"}
    if room_id is not None:
        reply["room_id"] = room_id
    reply["users"] = [u.to_wire() for u in users]
    return encode(with_ref(reply, ref))


def watching(users: list[User], ref: Ref) -> OutFrame:
    """An extension, the reply to ``watch``: the watched users online now (:mod:`wire.presence`)."""
    return encode(with_ref({"type": "watching", "online": [u.to_wire() for u in users]}, ref))


def presence(user: User, online: bool) -> OutFrame:
    """An extension: a watched user came online (their first session anywhere) or went offline (their last ended)."""
    return encode({"type": "presence", "user": user.to_wire(), "online": online})


TYPING_EXPIRES_MS = 6000
"""How long a client shows "typing" after the last notice: the typist's client renews it sooner."""


def typing(user: User, *, room_id: str | None = None) -> OutFrame:
    """An extension: ``user`` is typing in the room, or (no ``room_id``) to the receiver, their peer.

    Shown until ``expires_in_ms`` pass without another.
    """
    where = {"room_id": room_id} if room_id is not None else {"peer_id": user.user_id}
    return encode({"type": "typing", **where, "user": user.to_wire(), "expires_in_ms": TYPING_EXPIRES_MS})


def pong(ref: Ref) -> OutFrame:
    return encode(with_ref({"type": "pong"}, ref))


def room_created(room: RoomInfo) -> OutFrame:
    """An extension: a room was just created, pushed to every session; shaped as an item of the room list."""
    return encode({"type": "room_created", "room": room.to_wire() | {"online": 0}})


NOTICE_TEXT = {"join": "{name} joined the room", "leave": "{name} left the room"}


def notice(event: str, room_id: str, user: User, timestamp: int | None = None) -> OutFrame:
    """A ``system`` notice to a room: ``join`` when a user's first session joins, ``leave`` when the last goes."""
    return encode(
        {
            "type": "system",
            "event": event,
            "room_id": room_id,
            "user": user.to_wire(),
            "content": NOTICE_TEXT[event].format(name=user.username),
            "timestamp": now_ms() if timestamp is None else timestamp,
        }
    )


# Moderation (wire.moderation) ---------------------------------------------------


def moderated(action: str, room_id: str, target: User, ref: Ref, *, until: int | None = None) -> OutFrame:
    """The reply to a moderation command: done. ``until`` for a mute or ban (null: until lifted)."""
    reply: dict[str, Any] = {
        "type": "moderated",
        "action": action,
        "room_id": room_id,
        "user": target.to_wire(),
    }
    if action in moderation.TIMED:
        reply["until"] = until
    return encode(with_ref(reply, ref))


def moderation_notice(
    action: str, room_id: str, target: User, actor: User | None, *, reason: str | None, until: int | None
) -> OutFrame:
    """A ``system`` notice to a room of a moderation action, or of a mute or ban that ended (no actor)."""
    return encode(moderation.notice(action, room_id, target, actor, reason=reason, until=until))


def kicked(
    room_id: str, actor: User, reason: str | None, *, banned: bool, until: int | None, removed: bool = False
) -> OutFrame:
    """To each session of a kicked or banned user: it is no longer in the room.

    ``removed``: no longer a member of the private room either (``remove_member``), so it cannot join again.
    """
    frame: dict[str, Any] = {
        "type": "kicked",
        "room_id": room_id,
        "actor": actor.to_wire(),
        "reason": reason,
        "banned": banned,
    }
    if banned:
        frame["until"] = until
    if removed:
        frame["removed"] = True
    return encode(frame)


def sanctioned(code: str, message: str, until: int | None, ref: Ref) -> OutFrame:
    """``muted`` or ``banned``: an error that also says when the sanction ends (null: when lifted)."""
    return encode(with_ref({"type": "error", "code": code, "message": message, "until": until}, ref))
