"""The small storage interface the actors see.

Actors must not import the ORM. They append message drafts to a
:class:`MessageLog` and wait on the returned :class:`Commit`; the concrete log
is ``storage.journal.Journal``, which batches drafts into group commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


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

    def to_wire(self) -> dict[str, object]:
        return {"room_id": self.room_id, "name": self.name, "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class Draft:
    """A message the server has accepted but not yet numbered or stored."""

    kind: Literal["group", "private"]
    sender: User
    content: str
    room_id: str | None = None
    target_id: str | None = None


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


class LogClosed(Exception):
    """The server is shutting down and stores no more messages."""


class CommitFailed(Exception):
    """The transaction holding a message failed; the message is not stored."""


class Commit(Protocol):
    """The outcome of the transaction that stores one message."""

    @property
    def settled(self) -> bool:
        """True once the outcome is known, so :meth:`result` may be called."""

    def result(self) -> None:
        """Once settled: return if the message is durable, raise :class:`CommitFailed` if not."""

    async def wait(self) -> None:
        """Return once settled (whichever the outcome)."""


class MessageLog(Protocol):
    async def append(self, draft: Draft) -> tuple[StoredMessage, Commit]:
        """Number ``draft`` and queue it for the next group commit.

        Waits only when the queue of uncommitted messages is at its bound.
        Messages appended by one caller are committed in the order appended.
        """
