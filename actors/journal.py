"""The message journal: numbers messages and stores them by group commit.

Contract:

* **Owner**: the composition root starts :meth:`Journal.run` (actor id
  ``journal``); rooms and the registry call :meth:`Journal.append`.
* **Behind it**: any :class:`storage.interface.MessageStore` (the database);
  the journal is the one sequencer of message ids, and the cluster mode can
  put another sequencer behind the same :class:`storage.interface.MessageLog`.
* **Mailbox**: a bounded list of uncommitted messages (``max_pending``).
  ``append`` waits only when it is full; that wait is the backpressure that
  reaches a sender's socket when the database falls behind.
* **Numbering**: ids come from one counter, taken at ``append`` time, so the
  messages of one room (appended by that room actor, in order) get increasing
  ids and are committed in that same order.
* **Group commit**: the writer takes everything pending, writes it in one
  transaction, and completes one shared :class:`BatchCommit`. While a
  transaction is in flight, new messages gather for the next one, so the
  batch grows with the load instead of the database capping throughput at
  one transaction per message.
* **Failure policy**: a failed transaction fails its batch (senders get an
  ``internal`` error, nobody sees the messages) and the writer carries on.
  :meth:`close` stops intake and lets the writer flush what is pending.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from actors.logs import supervision_event
from storage.interface import CommitFailed, Draft, LogClosed, MessageStore
from wire.clock import now_ms
from wire.shapes import StoredMessage

log = logging.getLogger(__name__)


class BatchCommit:
    """Completion of one group commit, shared by every message in the batch."""

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

    def succeed(self) -> None:
        self._done.set()

    def fail(self, reason: str) -> None:
        self._error = reason
        self._done.set()


class Journal:
    def __init__(
        self,
        store: MessageStore,
        *,
        first_id: int,
        max_pending: int,
        on_batch: Callable[[list[StoredMessage], bool], Awaitable[None]] | None = None,
    ) -> None:
        self._on_batch = on_batch
        self._store = store
        self._next_id = first_id
        self._max_pending = max_pending
        self._pending: list[StoredMessage] = []
        self._commit = BatchCommit()
        self._has_work = trio.Event()
        self._has_room = trio.Event()
        self._closed = False
        self._flushed = trio.Event()
        self.committed_messages = 0
        self.committed_batches = 0

    @classmethod
    async def open(
        cls,
        store: MessageStore,
        *,
        max_pending: int = 8192,
        on_batch: Callable[[list[StoredMessage], bool], Awaitable[None]] | None = None,
    ) -> Journal:
        """A journal whose first id follows the highest one stored.

        ``on_batch`` hears of every group commit (its messages, and whether
        they were stored): the cluster mode announces them to the other processes.
        """
        first_id = await store.max_message_id() + 1
        return cls(store, first_id=first_id, max_pending=max_pending, on_batch=on_batch)

    @property
    def last_id(self) -> int:
        """The highest id handed out so far (stored or not yet)."""
        return self._next_id - 1

    @property
    def depth(self) -> int:
        return len(self._pending)

    async def append(self, draft: Draft) -> tuple[StoredMessage, BatchCommit]:
        await self._wait_for_room()
        message = StoredMessage(
            id=self._next_id,
            timestamp=now_ms(),
            kind=draft.kind,
            sender=draft.sender,
            content=draft.content,
            room_id=draft.room_id,
            target_id=draft.target_id,
        )
        self._next_id += 1
        self._pending.append(message)
        self._has_work.set()
        return message, self._commit

    async def store(self, message: StoredMessage) -> BatchCommit:
        """Queue a message numbered elsewhere (the cluster's sequencer) for the next group commit."""
        await self._wait_for_room()
        self._next_id = max(self._next_id, message.id + 1)
        self._pending.append(message)
        self._has_work.set()
        return self._commit

    async def _wait_for_room(self) -> None:
        while len(self._pending) >= self._max_pending and not self._closed:
            if self._has_room.is_set():
                self._has_room = trio.Event()
            await self._has_room.wait()
        if self._closed:
            raise LogClosed("the server is shutting down")

    def close(self) -> None:
        """Accept nothing new; the writer returns once everything pending is stored."""
        self._closed = True
        self._has_work.set()
        self._has_room.set()

    async def wait_flushed(self) -> None:
        await self._flushed.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        supervision_event("journal", "started", parent="root", reason=f"next id {self._next_id}")
        task_status.started()
        try:
            while True:
                await self._has_work.wait()
                self._has_work = trio.Event()
                if not self._pending:
                    if self._closed:
                        break
                    continue
                # Everything pending shares one commit object: take both together.
                batch, commit = self._pending, self._commit
                self._pending, self._commit = [], BatchCommit()
                self._has_room.set()
                await self._write(batch, commit)
                if self._closed:
                    self._has_work.set()
        finally:
            self._flushed.set()
            supervision_event("journal", "stopped", parent="root")

    async def _write(self, batch: list[StoredMessage], commit: BatchCommit) -> None:
        try:
            await self._store.write_messages(batch)
        except Exception as exc:
            log.error("group commit of %d messages failed: %s", len(batch), exc, exc_info=exc)
            commit.fail(f"{type(exc).__name__}")
            stored = False
        else:
            self.committed_messages += len(batch)
            self.committed_batches += 1
            commit.succeed()
            stored = True
        if self._on_batch is not None:
            await self._on_batch(batch, stored)
