"""Commits made elsewhere: a message is shown only once the process that numbered it has stored it.

Every process receives a room's messages as they are numbered, in order,
but the process that numbered one stores it a moment later and announces
the ids it stored on the ``committed`` channel. The subscriber hands each
message on with a :class:`RemoteCommit` from this board, and the room's
ordered delivery waits on it exactly as it waits on a local group commit.

One subscriber connection carries both channels, so an announcement never
arrives before its message. An announcement that never comes (its process
died, or could not reach Redis) is settled by :meth:`CommitBoard.overdue`
and a look in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from storage.interface import CommitFailed


class RemoteCommit:
    """A :class:`storage.interface.Commit` settled by another process's announcement."""

    __slots__ = ("_done", "_error")

    def __init__(self) -> None:
        self._done = trio.Event()
        self._error: str | None = None

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    def result(self) -> None:
        if self._error is not None:
            raise CommitFailed(self._error)

    async def wait(self) -> None:
        await self._done.wait()

    def settle(self, stored: bool, reason: str = "not stored") -> None:
        if not self._done.is_set():
            self._error = None if stored else reason
            self._done.set()


@dataclass(slots=True)
class _Pending:
    commit: RemoteCommit
    origin: str
    since: float
    waiters: int = 1


@dataclass(slots=True)
class CommitBoard:
    """The messages this process has seen numbered and not yet heard stored, by id."""

    pending: dict[int, _Pending] = field(default_factory=dict)

    def expect(self, message_id: int, origin: str) -> RemoteCommit:
        """The commit of ``message_id``, numbered by process ``origin``; shared by every channel it came on."""
        found = self.pending.get(message_id)
        if found is not None:
            found.waiters += 1
            return found.commit
        entry = self.pending[message_id] = _Pending(RemoteCommit(), origin, trio.current_time())
        return entry.commit

    def announce(self, stored: list[int], failed: list[int]) -> None:
        for ids, ok in ((stored, True), (failed, False)):
            for message_id in ids:
                entry = self.pending.pop(message_id, None)
                if entry is not None:
                    entry.commit.settle(ok, "the process that numbered it could not store it")

    def overdue(self, older_than: float) -> list[tuple[int, str]]:
        """Ids still waiting after ``older_than`` seconds, with the process that numbered each."""
        now = trio.current_time()
        return [(i, e.origin) for i, e in self.pending.items() if now - e.since > older_than]

    def abandon(self) -> None:
        """The subscription was lost: settle every pending commit as not to be shown here.

        Every session of this process is being closed with 1012 and will read
        these messages from the history when it joins again; kept pending,
        they would hold each room's deliveries, and the replies of the joins
        that come back, until their announcement is looked up at last.
        """
        pending, self.pending = self.pending, {}
        for entry in pending.values():
            entry.commit.settle(False, "the subscription was lost: read it from the history")

    def resolve(self, message_id: int, stored: bool) -> None:
        """Settle an overdue id from what the database says."""
        entry = self.pending.pop(message_id, None)
        if entry is not None:
            entry.commit.settle(stored, "its process went away before storing it")
