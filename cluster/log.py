"""The cluster's message log: numbered and published by Redis, stored by this process's journal.

:class:`ClusterLog` is the :class:`storage.interface.MessageLog` rooms and the
registry append to in cluster mode. One Lua script takes the next id from
the cluster-wide counter and publishes the message on its channels (the
room's, or the target's and sender's); then the local journal stores it in
its next group commit, and :meth:`ClusterLog.announce` tells every process
which ids were stored. Ack still means stored: the sender's ack waits on
the local commit, and every receiver's delivery on the announcement.

If Redis cannot be reached, :class:`cluster.link.ClusterUnavailable` (a
:class:`storage.interface.LogUnavailable`) is raised and the sender is told
to send again. If Redis lost its counter (a restart), the counter is set
again above the highest stored id plus a margin, and the append retried once.

An append that timed out may still have been numbered and published, when
a Redis that stalled runs it later: every process then holds that id in its
ordered delivery, waiting for an announcement that the journal here will
never make. :meth:`ClusterLog.in_flight` tells the node actor which ids
this process numbered and has not announced yet, so that it can announce
the others as failed (:meth:`cluster.node.Node`, ``_settle_overdue``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from actors.journal import Journal
from cluster import posts
from cluster.link import ID_MARGIN, ClusterUnavailable, CounterLost, RedisLink
from storage.interface import Commit, Draft, LogClosed, MessageStore
from wire.clock import now_ms
from wire.shapes import StoredMessage

log = logging.getLogger(__name__)


class ClusterLog:
    def __init__(self, link: RedisLink, journal: Journal, store: MessageStore) -> None:
        self._link = link
        self._journal = journal
        self._store = store
        self._last_id = 0
        self._in_flight: set[int] = set()  # numbered here, not yet announced

    @property
    def last_id(self) -> int:
        """The highest id this process has handed out."""
        return self._last_id

    def in_flight(self, message_id: int) -> bool:
        """Whether this process numbered ``message_id`` and has not announced its commit yet."""
        return message_id in self._in_flight

    async def setup_ids(self) -> None:
        """Give Redis an id counter if it has none: above every stored id, plus a margin."""
        floor = await self._store.max_message_id() + ID_MARGIN
        if await self._link.init_ids(floor):
            log.warning("the cluster's id counter was missing in Redis; it now starts above %d", floor)

    def _payload(self, draft: Draft, timestamp: int) -> dict[str, Any]:
        """A private message as its publication carries it (:func:`cluster.subscriber.message_of` reads it)."""
        return {
            "k": draft.kind,
            "ts": timestamp,
            "sender": draft.sender.to_wire(),
            "content": draft.content,
            "origin": self._link.node,
            "target_id": draft.target_id,
        }

    async def append(self, draft: Draft) -> tuple[StoredMessage, Commit]:
        if draft.kind == "group":  # a room's posts always travel as a burst, even of one
            assert draft.room_id is not None
            for queued in await self.append_room_burst(draft.room_id, [draft]):
                return queued
            raise LogClosed("the server is shutting down")
        assert draft.target_id is not None
        timestamp = now_ms()
        payload = self._payload(draft, timestamp)
        channels = list(
            dict.fromkeys(
                [self._link.user_channel(draft.target_id), self._link.user_channel(draft.sender.user_id)]
            )
        )
        message_id = await self._numbering(lambda: self._link.append(channels, payload))
        stored = _stored(draft, message_id, timestamp)
        return stored, await self._queue(stored)

    async def append_room_burst(
        self, room_id: str, drafts: list[Draft]
    ) -> list[tuple[StoredMessage, Commit]]:
        """Number a room's queued posts together (one script call, one publication); each with its commit.

        What :meth:`append` does for one message, for a burst: the ids are
        consecutive in ``drafts``' order, and what is published is the frames
        members receive (:mod:`cluster.posts`). Fewer results than drafts
        means the journal closed part way (the server is stopping): the rest
        were numbered and published but will not be stored, and the node
        actor announces them as failed.
        """
        timestamp = now_ms()
        frames = [posts.frame_text(draft, timestamp) for draft in drafts]
        channel = self._link.room_channel(room_id)
        first = await self._numbering(lambda: self._link.number_posts(channel, frames))
        queued: list[tuple[StoredMessage, Commit]] = []
        for offset, draft in enumerate(drafts):
            stored = _stored(draft, first + offset, timestamp)
            try:
                queued.append((stored, await self._queue(stored)))
            except LogClosed:
                break
        return queued

    async def _numbering(self, number: Callable[[], Awaitable[int]]) -> int:
        """Run a numbering script; if Redis came back without its counter, set it up and run it again."""
        try:
            return await number()
        except CounterLost:
            await self.setup_ids()
            return await number()

    async def _queue(self, stored: StoredMessage) -> Commit:
        """Hand a numbered message to the journal; until its commit is announced it is in flight here."""
        self._last_id = max(self._last_id, stored.id)
        self._in_flight.add(stored.id)
        try:
            return await self._journal.store(stored)
        except BaseException:
            self._in_flight.discard(stored.id)  # not in the journal: the node actor settles it
            raise

    async def announce(self, batch: list[StoredMessage], stored: bool) -> None:
        """Tell every process which ids this group commit stored (the journal's ``on_batch``)."""
        ids = [m.id for m in batch]
        self._in_flight.difference_update(ids)
        try:
            await self._link.publish(self._link.committed, {"ok": ids} if stored else {"failed": ids})
        except ClusterUnavailable:
            log.warning(
                "could not announce %d stored messages; the other processes will look them up", len(ids)
            )


def _stored(draft: Draft, message_id: int, timestamp: int) -> StoredMessage:
    return StoredMessage(
        id=message_id,
        timestamp=timestamp,
        kind=draft.kind,
        sender=draft.sender,
        content=draft.content,
        room_id=draft.room_id,
        target_id=draft.target_id,
    )
