"""The node actor: this process says it is alive, and undoes what dead processes left behind.

Contract:

* **Actor id** ``node``; one per process in cluster mode.
* **Every** :data:`BEAT_EVERY` **seconds** it refreshes ``chat:node:<P>:alive``
  for :data:`ALIVE_FOR` seconds. **Every** :data:`REAP_EVERY` **seconds** it
  reaps each known process whose key has expired (:meth:`RedisLink.reap`:
  its sessions leave every room and the online list, one ``leave`` notice
  per user and room, exactly once however many processes reap at once),
  says the goings whose grace a stopped process could not end, and
  settles the commits this process still waits for whose announcement is
  overdue, from the database. An overdue id this process numbered itself
  but does not have in its journal (an append that gave up on a silent Redis
  which ran it later) is announced again, as stored or failed, so that no
  process holds its room's deliveries behind it.
* **When Redis comes back** after the subscriber lost it (every session here
  was closed with 1012, and their departures could not be counted), the
  subscriber calls :meth:`Node.back`, which undoes this process's own counts
  once, before the subscriber says it is connected and anything new is
  counted in.
* **At shutdown** it undoes this process's counts at once, so a graceful
  stop leaves no ghost for the others to wait out.
* **Failure policy**: Redis unreachable is logged once per outage and
  retried on the next beat; nothing else can fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from actors.logs import supervision_event
from cluster.commits import CommitBoard
from cluster.link import TIMEOUT, ClusterUnavailable, RedisLink
from storage.interface import StoredIds

log = logging.getLogger(__name__)

BEAT_EVERY = 1.5
ALIVE_FOR = 5.0
REAP_EVERY = 2.0
ANNOUNCEMENT_OVERDUE = 3.0
"""Seconds after which a commit is looked up in the database if its process is dead (or is this one,
and has not got the id in its journal: longer than a Redis command may take, so that the append has
returned or given up by then)..."""
ANNOUNCEMENT_LOST = 30.0
"""...and after which it is looked up whatever (its announcement was lost)."""


assert ANNOUNCEMENT_OVERDUE > TIMEOUT


class Node:
    def __init__(
        self, link: RedisLink, board: CommitBoard, messages: StoredIds, in_flight: Callable[[int], bool]
    ) -> None:
        self._link = link
        self._board = board
        self._messages = messages
        self._in_flight = in_flight
        """Whether this process numbered an id and has not announced it yet (:meth:`ClusterLog.in_flight`)."""
        self._unreachable = False

    async def back(self) -> None:
        """The subscription is back: undo this process's stale counts, and say it is alive again.

        Run before any session can be counted in again (the subscriber is not
        yet connected): run later, it would undo the counts of the sessions
        that reconnected meanwhile and send a ``leave`` for each of them.
        """
        gone = await self._link.reap(self._link.node, even_alive=True)
        await self._link.beat(ALIVE_FOR)
        log.warning("Redis is back: undid this process's stale presence (%d leave notices)", gone)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        link = self._link
        await link.beat(ALIVE_FOR)  # raises if Redis cannot be reached at start: the server does not start
        supervision_event("node", "started", parent="root", reason=f"node {link.node}")
        task_status.started()
        next_reap = trio.current_time()
        try:
            while True:
                try:
                    await link.beat(ALIVE_FOR)
                    if trio.current_time() >= next_reap:
                        next_reap = trio.current_time() + REAP_EVERY
                        await self._reap_the_dead()
                        await link.sweep_offline(REAP_EVERY)  # graces their process could not end
                        await self._settle_overdue()
                    if self._unreachable:
                        self._unreachable = False
                        log.warning("Redis answers again")
                except ClusterUnavailable as exc:
                    if not self._unreachable:
                        self._unreachable = True
                        log.error("Redis cannot be reached (%s): sending is refused until it answers", exc)
                await trio.sleep(BEAT_EVERY)
        finally:
            with trio.move_on_after(2, shield=True):
                try:
                    await link.reap(link.node, even_alive=True)
                except ClusterUnavailable:
                    pass
            supervision_event("node", "stopped", parent="root")

    async def _reap_the_dead(self) -> None:
        for node in await self._link.nodes():
            if node != self._link.node:
                gone = await self._link.reap(node)
                if gone >= 0:
                    log.warning(
                        "process %s stopped answering: its sessions left (%d leave notices)", node, gone
                    )

    async def _settle_overdue(self) -> None:
        overdue = self._board.overdue(ANNOUNCEMENT_OVERDUE)
        if not overdue:
            return
        here = self._link.node
        mine = [i for i, origin in overdue if origin == here and not self._in_flight(i)]
        alive = await self._link.alive_nodes({origin for _, origin in overdue})
        lost = {i for i, _ in self._board.overdue(ANNOUNCEMENT_LOST)}
        due = [i for i, origin in overdue if i in mine or origin not in alive or i in lost]
        if not due:
            return
        stored = await self._messages.stored_ids(due)
        for message_id in due:
            self._board.resolve(message_id, message_id in stored)
        if mine:  # only this process can tell the others at once: they wait for it while it is alive
            outcome = {"ok": [i for i in mine if i in stored], "failed": [i for i in mine if i not in stored]}
            await self._link.publish(self._link.committed, outcome)
