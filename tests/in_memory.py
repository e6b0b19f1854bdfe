"""In-memory implementations of our own interfaces, for the unit tests of the actors' pure cores.

These are second implementations of protocols this project defines
(:class:`actors.client_socket.ClientSocket`, :class:`storage.interface.MessageLog`),
not mocks of a library: each one behaves as the protocol says, and lets a
test decide what the real one leaves to the network or the database (when a
commit settles). What a member receives is read back from the bytes its
socket was given, with a frame decoder written here, independently of
:mod:`wire.frames`.
"""

from __future__ import annotations

import json
from typing import Any

from actors.client_socket import TransportClosed
from actors.handle import SessionHandle
from actors.journal import BatchCommit
from actors.outbox import Outbox
from storage.interface import Commit, Draft
from wire.shapes import StoredMessage, User


class RecordingSocket:
    """A client socket that takes every write at once and keeps the bytes; it never has anything to read."""

    def __init__(self) -> None:
        self.written = bytearray()

    async def receive(self) -> str | bytes:
        raise TransportClosed("a recording socket has nothing to read")

    def write_now(self, data: bytes) -> int:
        self.written += data
        return len(data)

    async def send(self, data: bytes) -> None:
        self.written += data

    async def close(self, code: int, reason: str) -> None:
        await self.send_close(code, reason)

    async def send_close(self, code: int, reason: str) -> None:
        pass

    async def await_close_reply(self) -> None:
        pass

    def abort(self) -> None:
        pass


def decode_server_frames(wire: bytearray) -> list[dict[str, Any]]:
    """Take every whole text frame off the front of ``wire`` (unmasked, as a server sends them), as JSON."""
    out: list[dict[str, Any]] = []
    while len(wire) >= 2:
        size, start = wire[1], 2
        if size == 126:
            size, start = int.from_bytes(wire[2:4], "big"), 4
        elif size == 127:
            size, start = int.from_bytes(wire[2:10], "big"), 10
        if len(wire) < start + size:
            break
        assert wire[0] == 0x81, f"not a final text frame: {wire[0]:#x}"
        out.append(json.loads(wire[start : start + size]))
        del wire[: start + size]
    return out


def _flush_at_once(outbox: Outbox) -> None:
    """The writer's turn, taken at once: a recording socket takes every write whole."""
    outbox.flush()


class Member:
    """One session of a user: its handle, as rooms and the registry hold it, over a real outbox.

    The outbox is flushed as soon as a frame is queued (the writer actor's
    job in the server), so :meth:`frames` sees every delivery at once.
    ``closes`` lists the closes the session was asked for (a full outbox asks for 1013).
    """

    def __init__(self, name: str, number: int = 1, *, outbox_capacity: int = 64) -> None:
        self.socket = RecordingSocket()
        self.closes: list[tuple[int, str]] = []
        self.session_id = f"session:{name}:{number}"
        self.user = User(name, name)
        outbox = Outbox(
            self.session_id,
            self.socket,
            outbox_capacity,
            schedule=_flush_at_once,
            on_overflow=self.close,
            on_gone=lambda: None,
        )
        self.handle = SessionHandle(self.session_id, self.user, outbox, self.close)

    def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))

    def frames(self) -> list[dict[str, Any]]:
        """The frames received since the last call, decoded."""
        return decode_server_frames(self.socket.written)


class HeldLog:
    """A message log whose commits settle only when the test says so (``commits[n].succeed()`` or ``.fail()``).

    Each append is its own commit, numbered from 1 in append order; the
    timestamp is 0 so that expected frames can be written out whole.
    """

    def __init__(self) -> None:
        self.commits: list[BatchCommit] = []
        self.drafts: list[Draft] = []

    async def append(self, draft: Draft) -> tuple[StoredMessage, Commit]:
        commit = BatchCommit()
        self.commits.append(commit)
        self.drafts.append(draft)
        stored = StoredMessage(
            len(self.commits), 0, draft.kind, draft.sender, draft.content, draft.room_id, draft.target_id
        )
        return stored, commit

    @property
    def last_id(self) -> int:
        return len(self.commits)
