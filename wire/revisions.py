"""Editing and deleting room messages: the commands, the frames that answer and announce them, and the
history's shape of a message that was edited or deleted.

The commands (parsed by :func:`wire.commands.parse_command`, ``content`` as for a post)::

    {"type": "edit", "room_id", "message_id", "content", "ref"?}
    {"type": "delete", "room_id", "message_id", "ref"?}

Answered ``edited`` / ``deleted`` (with the ``ref``); the room is told with an
``edit`` / ``delete`` event in its order among the messages. In the history a
message that was edited carries ``edited_at``; one that was deleted is a
tombstone: its ``content`` is the empty string (a v1 client still finds a
string there), with ``deleted_at`` and ``deleted_by``. A message never
revised is shaped exactly as before (:class:`wire.shapes.StoredMessage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wire.shapes import StoredMessage, User

if TYPE_CHECKING:
    from wire.commands import Ref


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the content of one's own message ``message_id`` in ``room_id``."""

    room_id: str
    message_id: int
    content: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete message ``message_id`` of ``room_id`` (one's own, or any as the room's admin or owner)."""

    room_id: str
    message_id: int
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class RevisedMessage(StoredMessage):
    """A stored message as the history shows it once edited (``edited_at``) or deleted (a tombstone)."""

    edited_at: int | None = None
    deleted_at: int | None = None
    deleted_by: User | None = None

    def to_wire(self) -> dict[str, object]:
        out = StoredMessage.to_wire(self)
        if self.deleted_at is not None:
            out["content"] = ""
            out["deleted_at"] = self.deleted_at
            out["deleted_by"] = None if self.deleted_by is None else self.deleted_by.to_wire()
        elif self.edited_at is not None:
            out["edited_at"] = self.edited_at
        return out


def edited(room_id: str, message_id: int, at: int) -> dict[str, Any]:
    """The reply to ``edit``: stored."""
    return {"type": "edited", "room_id": room_id, "message_id": message_id, "edited_at": at}


def deleted(room_id: str, message_id: int, at: int) -> dict[str, Any]:
    """The reply to ``delete``: erased."""
    return {"type": "deleted", "room_id": room_id, "message_id": message_id, "deleted_at": at}


def edit_event(room_id: str, message_id: int, content: str, at: int, sender: User) -> dict[str, Any]:
    """To the room: message ``message_id`` now reads ``content``."""
    return {
        "type": "edit",
        "room_id": room_id,
        "message_id": message_id,
        "content": content,
        "edited_at": at,
        "sender": sender.to_wire(),
    }


def delete_event(room_id: str, message_id: int, at: int, by: User) -> dict[str, Any]:
    """To the room: message ``message_id`` is gone; show a tombstone."""
    return {
        "type": "delete",
        "room_id": room_id,
        "message_id": message_id,
        "deleted_by": by.to_wire(),
        "deleted_at": at,
    }
