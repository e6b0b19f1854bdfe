"""The commands a client sends, parsed from one text frame each.

The pure core of the session's reader: no tasks, no sockets. A frame is
either a command dataclass or a :class:`FrameError` naming the documented
error code to answer with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wire.blocks import ChangeBlock as ChangeBlock  # block and unblock, beside their description
from wire.invites import AnswerInvite as AnswerInvite  # private rooms' invites, beside their frames
from wire.invites import InviteUser as InviteUser
from wire.moderation import Moderate as Moderate  # a command like the others, defined beside its frames
from wire.moderation import parse_moderation
from wire.presence import BadWatch, parse_watch
from wire.presence import WatchPresence as WatchPresence  # presence subscriptions, beside their description
from wire.revisions import Delete as Delete  # edit and delete of a room message, beside their frames
from wire.revisions import Edit as Edit
from wire.strict_json import InvalidJson, decode_json

MAX_REF_LENGTH = 64
MAX_ID_LENGTH = 64

Ref = str | int | None
"""What a client may put in ``ref`` (a string of at most 64 characters, or an integer); None: no ref."""


@dataclass(frozen=True, slots=True)
class Join:
    room_id: str
    ref: Ref = None
    since: int | None = None
    """The last message id the client saw in the room: recover what came after it (None: no recovery)."""


@dataclass(frozen=True, slots=True)
class Leave:
    room_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SendGroup:
    room_id: str
    content: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SendPrivate:
    target_id: str
    content: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class AskOnline:
    room_id: str | None
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Sync:
    """The private messages to or from the client's user after ``since``."""

    since: int
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Refresh:
    """Go on with a new token (same user) on this socket; its expiry replaces the old one's."""

    token: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class MarkRead:
    """The user has read a room (``room_id``) or a private conversation (``peer_id``) up to ``up_to``."""

    room_id: str | None
    peer_id: str | None
    up_to: int
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Typing:
    """The user is typing in a room (``room_id``) or to a private peer (``peer_id``); nothing is stored."""

    room_id: str | None
    peer_id: str | None
    ref: Ref = None


Command = (
    Join
    | Leave
    | SendGroup
    | SendPrivate
    | AskOnline
    | Ping
    | Sync
    | Refresh
    | MarkRead
    | Moderate
    | ChangeBlock
    | InviteUser
    | AnswerInvite
    | Typing
    | WatchPresence
    | Edit
    | Delete
)

MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str
    ref: Ref = None


def _read_ref(obj: dict[str, Any]) -> Ref:
    ref = obj.get("ref")
    if ref is None:
        return None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise InvalidJson("ref must be a string of at most 64 characters or an integer")
    if isinstance(ref, str) and len(ref) > MAX_REF_LENGTH:
        raise InvalidJson("ref must be a string of at most 64 characters or an integer")
    return ref


def _field(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise InvalidJson(f"{name} must be a string")
    return value


def _message_id(obj: dict[str, Any], name: str) -> int:
    """A message id the client saw: an integer from 0 (0: from the start)."""
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidJson(f"{name} must be a message id: an integer of at least 0")
    return value


def _identifier(obj: dict[str, Any], name: str) -> str:
    value = _field(obj, name)
    if not value or len(value) > MAX_ID_LENGTH:
        raise InvalidJson(f"{name} must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


class ContentTooLong(Exception):
    pass


def _content(obj: dict[str, Any], max_chars: int) -> str:
    content = _field(obj, "content")
    if not content:
        raise InvalidJson("content must not be empty")
    if len(content) > max_chars:
        raise ContentTooLong(f"content is longer than {max_chars} characters")
    return content


_OBJECT_START = re.compile(r"[ \t\n\r]*\{")

REF_READ_MAX = 512
"""Frames up to this many characters are read for their ``ref`` even when refused unread (:func:`ref_of`)."""


def frame_size(frame: str | bytes) -> int:
    """The frame's size in bytes, as the flood limit charges it (exact for ASCII, cheap)."""
    if isinstance(frame, bytes) or frame.isascii():
        return len(frame)
    return len(frame.encode("utf-8", "surrogatepass"))


def ref_of(frame: str | bytes) -> Ref:
    """The ``ref`` of a frame refused before it was parsed, when it is small enough to read cheaply.

    A command is a few hundred bytes; the frames a flood sends are not, and
    reading them is what the refusal is there to avoid.
    """
    if not isinstance(frame, str) or len(frame) > REF_READ_MAX:
        return None
    return parse_command(frame, max_content=REF_READ_MAX).ref


def _room_or_peer(obj: dict[str, Any], kind: str) -> tuple[str | None, str | None]:
    """Exactly one of ``room_id`` and ``peer_id``."""
    room = None if obj.get("room_id") is None else _identifier(obj, "room_id")
    peer = None if obj.get("peer_id") is None else _identifier(obj, "peer_id")
    if (room is None) == (peer is None):
        raise InvalidJson(f"{kind} takes exactly one of room_id and peer_id")
    return room, peer


def _mark_read(obj: dict[str, Any], ref: Ref) -> MarkRead:
    """``read``: exactly one of ``room_id`` and ``peer_id``, and ``up_to``, a message id."""
    room, peer = _room_or_peer(obj, "read")
    return MarkRead(room, peer, _message_id(obj, "up_to"), ref)


def parse_command(frame: str | bytes, *, max_content: int) -> Command | FrameError:
    """Turn one client frame into a command, or into the error to answer it with."""
    if not isinstance(frame, str):
        return FrameError("bad_request", "binary frames are not accepted; send JSON text frames")
    if not _OBJECT_START.match(frame):
        # Refused without parsing: whatever follows, it is not one JSON object.
        return FrameError("bad_request", "a frame must hold one JSON object")
    try:
        obj = decode_json(frame)
    except ValueError as exc:
        return FrameError("bad_request", str(exc))
    if not isinstance(obj, dict):
        return FrameError("bad_request", "a frame must hold one JSON object")
    try:
        ref = _read_ref(obj)
    except InvalidJson as exc:
        return FrameError("bad_request", str(exc))
    kind = obj.get("type")
    try:
        match kind:
            case "join":
                since = None if obj.get("since") is None else _message_id(obj, "since")
                return Join(_identifier(obj, "room_id"), ref, since)
            case "leave":
                return Leave(_identifier(obj, "room_id"), ref)
            case "group":
                room_id = _identifier(obj, "room_id")
                return SendGroup(room_id, _content(obj, max_content), ref)
            case "private":
                target_id = _identifier(obj, "target_id")
                return SendPrivate(target_id, _content(obj, max_content), ref)
            case "online":
                wanted = None if obj.get("room_id") is None else _identifier(obj, "room_id")
                return AskOnline(wanted, ref)
            case "ping":
                return Ping(ref)
            case "sync":
                return Sync(_message_id(obj, "since"), ref)
            case "read":
                return _mark_read(obj, ref)
            case "typing":
                room, peer = _room_or_peer(obj, "typing")
                return Typing(room, peer, ref)
            case "invite":
                return InviteUser(_identifier(obj, "room_id"), _identifier(obj, "user_id"), ref)
            case "accept_invite" | "decline_invite":
                return AnswerInvite(_identifier(obj, "room_id"), kind == "accept_invite", ref)
            case (
                "grant_admin"
                | "revoke_admin"
                | "kick"
                | "mute"
                | "unmute"
                | "ban"
                | "unban"
                | "add_member"
                | "remove_member"
            ):
                room_id = _identifier(obj, "room_id")
                return parse_moderation(obj, kind, room_id, _identifier(obj, "user_id"), ref)
            case "edit":
                room_id, message_id = _identifier(obj, "room_id"), _message_id(obj, "message_id")
                return Edit(room_id, message_id, _content(obj, max_content), ref)
            case "delete":
                return Delete(_identifier(obj, "room_id"), _message_id(obj, "message_id"), ref)
            case "block" | "unblock":
                return ChangeBlock(_identifier(obj, "user_id"), kind == "block", ref)
            case "watch":
                return parse_watch(obj, ref)
            case "refresh":
                token = _field(obj, "token")
                if not token or len(token) > MAX_TOKEN_LENGTH:
                    raise InvalidJson(
                        f"token must be a non-empty string of at most {MAX_TOKEN_LENGTH} characters"
                    )
                return Refresh(token, ref)
            case str():
                return FrameError("unknown_type", f"unknown command type {kind[:40]!r}", ref)
            case _:
                return FrameError("bad_request", "type must be a string naming a command", ref)
    except (InvalidJson, BadWatch) as exc:
        return FrameError("bad_request", str(exc), ref)
    except ContentTooLong as exc:
        return FrameError("content_too_long", str(exc), ref)
