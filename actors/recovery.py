"""Recovery: what a reconnecting client missed, read from the history with one cursor.

A client that reconnects says which message it saw last (``since``): in a
room with ``join``, for its private conversations with ``sync``. It gets
the messages after that, read from the database, so any gap the history
still holds can be closed, across reconnects and server restarts alike.

The reply and the live messages that follow it meet exactly, with no gap
and no duplicate: the read goes through the same ordered delivery queue as
the messages (:attr:`actors.delivery.Delivery.prepare`), so it covers
everything delivered before it, ``upto`` the last id handed out before it
was queued, and the session starts to receive live messages right after it.

At most ``limit`` messages come back; when more were missed, the newest
``limit`` and ``truncated`` (the client pages further back over HTTP).

A room's recovery also brings the older messages (up to ``since``) edited or
deleted since message ``since`` was sent (``revised``, at most ``limit``,
the latest changes), when a :class:`storage.interface.ChangeReader` is given:
what the client shows of them would otherwise stay as it was before it left.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from storage.interface import ChangeReader, HistoryReader
from wire.events import Recovery
from wire.shapes import StoredMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoverySource:
    history: HistoryReader
    limit: int
    """Most messages one recovery returns (``limits.recovery_messages``)."""
    changes: ChangeReader | None = None

    async def room(self, room_id: str, since: int, upto: int) -> Recovery:
        found = await self._read(lambda n: self.history.room_history_since(room_id, since, upto, n))
        if self.changes is None or since == 0 or not (found.recovered or found.truncated):
            return found
        try:
            revised = await self.changes.room_changes_since(room_id, since, self.limit)
        except Exception as exc:  # the database failed: the new messages still come back
            log.warning("could not read the changes for a recovery: %s: %s", type(exc).__name__, exc)
            return found
        return replace(found, revised=revised) if revised else found

    async def private(self, user_id: str, since: int, upto: int) -> Recovery:
        return await self._read(lambda n: self.history.private_history_since(user_id, since, upto, n))

    async def _read(self, read: Callable[[int], Awaitable[list[StoredMessage]]]) -> Recovery:
        try:
            found = await read(self.limit + 1)
        except Exception as exc:  # the database failed: say so, and let the live messages flow
            log.warning("could not read the history for a recovery: %s: %s", type(exc).__name__, exc)
            return Recovery([], recovered=False)
        if len(found) > self.limit:
            return Recovery(found[-self.limit :], recovered=False, truncated=True)
        return Recovery(found, recovered=True)
