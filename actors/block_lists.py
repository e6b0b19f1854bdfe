"""Block lists: who refuses private messages with whom, and this process's memory of it.

Contract:

* **What a block does**: while a user blocks another, no private message
  passes between them, either way, and the blocker is left out of the
  blocked user's site-wide online lists. Rooms are not affected.
* **State**: :class:`BlockCache` holds the relations (whom they block, who
  blocks them) of the users with a session on this process, loaded from the
  database on first use and dropped when their last session goes. The
  private-message gate and the online filter read the asking user's own
  entry: once it is loaded, a dict lookup and a set membership, no query.
  The registry says who is present (``present``/``absent``), changes drop
  entries (``changed``), and only :meth:`BlockLists.relations` adds them.
* **Changes** (:meth:`BlockLists.change`, for the WebSocket and HTTP alike)
  are stored first (:mod:`storage.blocks`), then dropped from this memory
  before the caller is answered, then handed to the registry
  (:class:`actors.messages.ShareBlock`), which tells the user's other
  sessions and, in the cluster mode, publishes the change on both users'
  channels: every process that holds an entry of either user follows at
  least one of them, since it holds entries only for users with a session
  there (:mod:`cluster.registry`).
* **Consistency**: an entry is kept only if no change to that user arrived
  while it was read (a stamp per user), and only for a user whose changes
  reach this process (``present``: a session here; in the cluster mode,
  once its channel is followed). ``epoch`` is the cluster's subscription generation,
  None while Redis is lost: publications missed meanwhile cannot be known,
  so a new generation empties the memory and none is kept without one.
* **Bounds**: a user blocks at most ``limit`` users (``limits.blocks_per_user``,
  refused past it with ``block_limit``); entries exist only for users with a
  session here, each holding their list and the ids of those who block them.
* **Failure policy**: a database error reaches the caller (the session
  answers ``internal``; HTTP 500); nothing is changed or kept.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from actors.messages import RegistryMsg, ShareBlock
from actors.ref import ActorGone, ActorRef
from storage.interface import BlockLimitReached
from wire.shapes import User


@dataclass(frozen=True, slots=True)
class Relations:
    """A user's blocks both ways: the ids they block, and the ids of those who block them."""

    blocks: frozenset[str] = frozenset()
    blocked_by: frozenset[str] = frozenset()

    def bars(self, peer_id: str) -> bool:
        """Whether private messages with ``peer_id`` are refused (a block either way)."""
        return peer_id in self.blocks or peer_id in self.blocked_by


def hide(users: list[User], hidden: frozenset[str]) -> list[User]:
    """``users`` without those in ``hidden`` (a site-wide online list, for a user some of them block)."""
    return [u for u in users if u.user_id not in hidden] if hidden else users


class BlockCache:
    """The relations of the users present here: the pure core, no I/O.

    Each present user has a stamp, renewed by each change that concerns
    them: relations read from the database are kept only if the user's
    stamp is still the one taken before the read (:meth:`ticket`,
    :meth:`keep`), so a change that lands during a read is never hidden by
    it, and a change to one user does not hold up the reads of the others.
    """

    def __init__(self, epoch: Callable[[], int | None] = lambda: 0) -> None:
        self._entries: dict[str, Relations] = {}
        self._stamps: dict[str, int] = {}  # the users present here, each with the stamp of its last change
        self._counter = itertools.count(1)
        self._epoch_now = epoch
        self._epoch = epoch()

    def present(self, user_id: str) -> None:
        """The user's changes reach this process from now on: entries may be kept (any older one is dropped)."""
        self._entries.pop(user_id, None)
        self._stamps[user_id] = next(self._counter)

    def absent(self, user_id: str) -> None:
        """The user's last session here is gone: drop the entry and keep none."""
        self._entries.pop(user_id, None)
        self._stamps.pop(user_id, None)

    def changed(self, *user_ids: str) -> None:
        """Blocks of these users changed: drop their entries, and any read of them under way."""
        for user_id in user_ids:
            self._entries.pop(user_id, None)
            if user_id in self._stamps:
                self._stamps[user_id] = next(self._counter)

    def get(self, user_id: str) -> Relations | None:
        self._check_epoch()
        return self._entries.get(user_id)

    def ticket(self, user_id: str) -> int | None:
        """Taken before reading the user's relations from the database; :meth:`keep` needs it unchanged."""
        self._check_epoch()
        return self._stamps.get(user_id)

    def keep(self, user_id: str, relations: Relations, ticket: int | None) -> bool:
        """Keep what was read since ``ticket`` if nothing changed meanwhile and the user is still present."""
        self._check_epoch()
        if ticket is None or self._stamps.get(user_id) != ticket or self._epoch is None:
            return False
        self._entries[user_id] = relations
        return True

    def _check_epoch(self) -> None:
        """A new subscription (or none): forget everything, and every read under way."""
        now = self._epoch_now()
        if now != self._epoch:
            self._epoch = now
            self._entries.clear()
            for user_id in self._stamps:
                self._stamps[user_id] = next(self._counter)


class BlockStore(Protocol):
    """What block lists need of :class:`storage.blocks.BlockTable`."""

    async def relations(self, user_id: str) -> tuple[frozenset[str], frozenset[str]]: ...

    async def add(self, blocker_id: str, blocked_id: str, limit: int) -> tuple[int, bool]: ...

    async def remove(self, blocker_id: str, blocked_id: str) -> bool: ...


class BlockRefused(Exception):
    """A block or unblock refused with a documented code; nothing changed.

    ``retry_after``: for ``rate_limited``, the seconds to wait.
    """

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class BlockChange:
    """A block or unblock carried out: whom, whether they are blocked now, since when, and whether it changed."""

    user: User
    blocked: bool
    since: int | None
    changed: bool


class BlockLists:
    """Block and unblock, and the relations the checks read; one per process."""

    def __init__(
        self,
        store: BlockStore,
        cache: BlockCache,
        registry: ActorRef[RegistryMsg],
        find_user: Callable[[str], Awaitable[User | None]],
        limit: int,
    ) -> None:
        self._store = store
        self._cache = cache
        self._registry = registry
        self._find_user = find_user
        self.limit = limit
        self.throttle: Callable[[str], Awaitable[int | None]] | None = None
        """Counts one change per user, the seconds to wait at the limit (``rate_limit.block_changes``).

        Every change is a write, and in the cluster mode two publications: a
        loop of toggles must not be a way to keep the database busy. None: unlimited."""

    async def relations(self, user_id: str) -> Relations:
        """The user's relations: from memory, else read (and kept when the cache may keep them)."""
        held = self._cache.get(user_id)
        if held is not None:
            return held
        ticket = self._cache.ticket(user_id)
        blocks, blocked_by = await self._store.relations(user_id)
        found = Relations(blocks, blocked_by)
        self._cache.keep(user_id, found, ticket)
        return found

    async def change(
        self, user: User, target_id: str, block: bool, *, skip: str | None = None
    ) -> BlockChange:
        """Block or unblock ``target_id`` for ``user``; :class:`BlockRefused` says why not.

        Stored, then forgotten here (so the next check reads it), then shared
        with the user's sessions but ``skip`` and, in the cluster mode, the
        other processes. Doing what is done already changes nothing and tells nobody.
        """
        if target_id == user.user_id:
            raise BlockRefused("forbidden", "you cannot block or unblock yourself")
        if self.throttle is not None and (wait := await self.throttle(user.user_id)) is not None:
            raise BlockRefused(
                "rate_limited", f"too many changes to your block list; try again in {wait} s", wait
            )
        target = await self._find_user(target_id)
        if target is None:
            raise BlockRefused("user_not_found", f"there is no user {target_id!r}")
        since: int | None = None
        if block:
            try:
                since, changed = await self._store.add(user.user_id, target.user_id, self.limit)
            except BlockLimitReached:
                raise BlockRefused(
                    "block_limit",
                    f"your block list holds {self.limit} users, its most: unblock someone first",
                ) from None
        else:
            changed = await self._store.remove(user.user_id, target.user_id)
        if changed:
            self._cache.changed(user.user_id, target.user_id)
            with contextlib.suppress(ActorGone):  # the server is stopping: there is nobody left to tell
                await self._registry.tell(ShareBlock(user.user_id, target, block, skip))
        return BlockChange(target, block, since, changed)
