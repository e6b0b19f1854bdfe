"""What rooms and the registry hold for a session: its identity and its outbox.

A room delivers to a member with :meth:`SessionHandle.deliver`, which never
waits (fan-out never awaits a peer): the frame goes into the session's
outbox and the session is scheduled with the writer actor, which writes
whatever the outbox holds once the room yields. When the session's outbox is full, the
session is too slow to keep up: the handle asks the session to close with
1013 and reports the delivery as failed; the room carries on with everybody
else. A closed outbox means the session is gone.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from actors.frames import OutFrame
from storage.interface import User

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TOO_SLOW = 1013
CLOSE_TOKEN_EXPIRED = 4401


class SessionHandle:
    __slots__ = ("_close", "_outbox", "_queued", "session_id", "token_id", "user")

    def __init__(
        self,
        session_id: str,
        user: User,
        outbox: trio.MemorySendChannel[OutFrame],
        close: Callable[[int, str], None],
        queued: Callable[[], None],
        *,
        token_id: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.user = user
        self.token_id = token_id
        """The id (``jti``) of the token the session was opened with: a logout closes its sessions."""
        self._outbox = outbox
        self._close = close
        self._queued = queued

    def __repr__(self) -> str:
        return f"<SessionHandle {self.session_id}>"

    def deliver(self, frame: OutFrame) -> bool:
        """Queue one encoded frame; False when the session is gone or was too slow."""
        try:
            self._outbox.send_nowait(frame)
        except trio.WouldBlock:
            self._close(CLOSE_TOO_SLOW, "outgoing queue overflowed")
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        self._queued()
        return True

    def close(self, code: int, reason: str) -> None:
        """Ask the session to close with ``code``; it never waits."""
        self._close(code, reason)
