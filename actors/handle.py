"""What rooms and the registry hold for a session: its identity and its outbox.

A room delivers to a member with :meth:`SessionHandle.deliver`, which never
waits (fan-out never awaits a peer): the frame goes into the session's
:class:`actors.outbox.Outbox`, which the writer actor empties once the room
yields. When the outbox is full, the session is too slow to keep up: it is
asked to close with 1013 and the delivery reports failure; the room carries
on with everybody else. A closed outbox means the session is gone.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.outbox import Outbox
from wire.events import OutFrame
from wire.shapes import User


class SessionHandle:
    __slots__ = ("_close", "_outbox", "linger", "session_id", "token_id", "user")

    def __init__(
        self,
        session_id: str,
        user: User,
        outbox: Outbox,
        close: Callable[[int, str], None],
        *,
        token_id: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.user = user
        self.token_id = token_id
        """The id (``jti``) of the token the session was opened with: a logout closes its sessions."""
        self._outbox = outbox
        self._close = close
        self.linger = 0.0
        """Seconds a room waits, once this session has ended, before announcing that its user left
        (when it was their last session there): what the client asked for at the handshake, bounded
        (:mod:`actors.departures`). 0: at once."""

    def __repr__(self) -> str:
        return f"<SessionHandle {self.session_id}>"

    def deliver(self, frame: OutFrame) -> bool:
        """Queue one encoded frame; False when the session is gone or was too slow."""
        return self._outbox.put(frame)

    def close(self, code: int, reason: str) -> None:
        """Ask the session to close with ``code``; it never waits."""
        self._close(code, reason)
