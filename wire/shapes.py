"""Users, rooms and messages as the contract shapes them, and as every part of the server passes them.

``to_wire`` gives the JSON object a client sees (``user``, ``room``,
``message`` in the contract); nothing else decides those shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str

    def to_wire(self) -> dict[str, str]:
        return {"user_id": self.user_id, "username": self.username}


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room_id: str
    name: str
    created_at: int
    visibility: Literal["public", "private"] = "public"
    """``private``: listed, readable and joinable only by its members (docs/protocol-notes.md)."""

    def to_wire(self) -> dict[str, object]:
        return {
            "room_id": self.room_id,
            "name": self.name,
            "created_at": self.created_at,
            "visibility": self.visibility,
        }

    @property
    def private(self) -> bool:
        return self.visibility == "private"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A numbered message; once its commit succeeds it is in the history."""

    id: int
    timestamp: int
    kind: Literal["group", "private"]
    sender: User
    content: str
    room_id: str | None = None
    target_id: str | None = None

    def to_wire(self) -> dict[str, object]:
        out: dict[str, object] = {
            "type": self.kind,
            "id": self.id,
            "content": self.content,
            "sender": self.sender.to_wire(),
            "timestamp": self.timestamp,
        }
        if self.kind == "group":
            out["room_id"] = self.room_id
        else:
            out["target_id"] = self.target_id
        return out
