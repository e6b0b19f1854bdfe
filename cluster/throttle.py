"""Sliding windows counted in Redis, so that every process of the cluster meets the same limits.

One process counts its throttles in memory (``web.ratelimit.SlidingWindow``).
Behind a round-robin balancer that would hand a guesser each process's
allowance: 100 guesses at one account spread over three processes had 30
of them checked instead of 10. In the cluster mode every window lives in
Redis instead, under the cluster's namespace, as ``rate:<window>:<key>``: a
sorted set with one member per counted event, scored by Redis's clock in
milliseconds (``TIME`` inside the scripts, so processes whose clocks
disagree still count one window). A key expires when its newest event
leaves the window, so quiet keys vanish.

**Check and count in one step.** :meth:`RedisWindows.take` is one Lua
script (:data:`cluster.lua.TAKE`) that prunes, checks every window asked and
counts the event in all of them or in none. Redis runs one script at a
time, so a burst spread over processes is held to the limit exactly as one
process holds it. Each event has a member of its own, by which it can be
taken back (:meth:`give_back`, :meth:`settle`).

Every method raises :class:`cluster.link.ClusterUnavailable` when Redis
cannot be reached; the callers decide what that means (the HTTP endpoints
refuse: nothing may pass uncounted).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cluster import lua
from cluster.link import RedisLink


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` events per key in any ``seconds``; ``name`` keeps its keys apart in Redis."""

    name: str
    limit: int
    seconds: float

    @property
    def span_ms(self) -> int:
        return max(1, round(self.seconds * 1000))


@dataclass(frozen=True, slots=True)
class Full:
    """Refused: window ``index`` (of those asked) is full; a place frees in ``retry_after`` whole seconds."""

    index: int
    retry_after: int


@dataclass(frozen=True, slots=True)
class Taken:
    """Counted: ``member`` names the event in every window that counted it; ``counted`` is how many did."""

    member: str
    counted: int


Place = tuple[Window, str]
"""A window and the key counted in it (an address, a username, a user id)."""


def retry_after(wait_ms: int) -> int:
    """Whole seconds until a place frees, as in one process: at least 1, rounded up."""
    return max(1, math.ceil(wait_ms / 1000))


class RedisWindows:
    """The cluster's sliding windows, over the process's :class:`cluster.link.RedisLink`."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._members = itertools.count()
        self._take = link.client.register_script(lua.TAKE)
        self._record = link.client.register_script(lua.RECORD)
        self._give_back = link.client.register_script(lua.GIVE_BACK)
        self._settle = link.client.register_script(lua.SETTLE)

    def key(self, window: Window, key: str) -> str:
        return f"{self._link.ns}:rate:{window.name}:{key}"

    def flag(self, name: str, key: str) -> str:
        return f"{self._link.ns}:flag:{name}:{key}"

    def _member(self) -> str:
        """Unique across the cluster: this process's id and a counter."""
        return f"{self._link.node}:{next(self._members)}"

    async def take(self, places: Sequence[Place], *, unless: str | None = None) -> Taken | Full:
        """Count one event in every window of ``places``, or in none if one is full.

        While the flag ``unless`` exists, the last window is neither checked
        nor counted (:meth:`flag`; a login from a known address).
        """
        member = self._member()
        keys = [self.key(window, key) for window, key in places]
        if unless is not None:
            keys.append(unless)
        args: list[str | int] = [member, len(places)]
        for window, _ in places:
            args += [window.limit, window.span_ms]
        ok, first, second = await self._run(self._take, keys, args)
        if not int(ok):
            return Full(int(first) - 1, retry_after(int(second)))
        return Taken(member, int(first))

    async def record(self, window: Window, key: str) -> None:
        """Count an event without checking the limit (it is refused already for another reason)."""
        await self._run(self._record, [self.key(window, key)], [self._member(), window.limit, window.span_ms])

    async def give_back(self, places: Sequence[Place], member: str) -> None:
        """Take back the event ``member`` from every window of ``places`` (a window that never counted it is unchanged)."""
        await self._run(self._give_back, [self.key(window, key) for window, key in places], [member])

    async def settle(
        self, places: Sequence[Place], member: str, *, empty: Place, flag: str, lifetime: float
    ) -> None:
        """In one step: :meth:`give_back`, empty the window ``empty``, and set ``flag`` for ``lifetime`` seconds."""
        keys = [self.key(window, key) for window, key in places]
        keys += [self.key(*empty), flag]
        await self._run(self._settle, keys, [member, max(1, round(lifetime * 1000))])

    async def _run(self, script: Any, keys: list[str], args: list[str | int]) -> Any:
        return await self._link.call(lambda: script(keys=keys, args=args))
