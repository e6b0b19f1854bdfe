"""Sliding-window counters for the endpoints a client can hammer.

Used for login failures (:mod:`web.login_throttle`), registrations per
client address and room creations per user. Past the limit the endpoint answers 429
``rate_limited`` with ``Retry-After`` (whole seconds until the oldest counted
event leaves the window). Keys that went quiet are forgotten, so the tables
stay bounded by recent traffic.

The endpoints see a :class:`Rate`: this process's :class:`SlidingWindow`,
or in the cluster mode the same window counted in Redis for every process
(:class:`web.cluster_limits.ClusterRate`), which refuses with
:class:`CountsUnavailable` when Redis cannot be reached.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

import trio

from web.errors import ApiError

UNAVAILABLE_RETRY_AFTER = 2
"""Seconds a client is asked to wait when the cluster's counts cannot be reached (Redis's timeout)."""


class CountsUnavailable(ApiError):
    """503 ``unavailable``: the cluster's shared counts (Redis) cannot be reached.

    The endpoint refuses rather than let an attempt pass uncounted: a guesser
    must not gain from Redis being away.
    """

    def __init__(self) -> None:
        super().__init__(
            503,
            "unavailable",
            f"the server cannot check its limits right now; try again in {UNAVAILABLE_RETRY_AFTER} s",
            {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        )


class Rate(Protocol):
    """At most ``limit`` events per key in any ``window`` seconds, wherever they are counted."""

    @property
    def limit(self) -> int: ...

    @property
    def window(self) -> float: ...

    async def take(self, key: str) -> int | None:
        """Count one event for ``key``; at the limit count nothing and return the seconds to wait."""
        ...


class SlidingWindow:
    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and now - events[0] >= self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: str) -> int | None:
        """Seconds to wait when ``key`` is at its limit, else None."""
        now = trio.current_time()
        events = self._recent(key, now)
        if events is None or len(events) < self.limit:
            return None
        return max(1, math.ceil(self.window - (now - events[0])))

    async def take(self, key: str) -> int | None:
        """:meth:`retry_after`, then :meth:`record` if there is room: :class:`Rate`'s check-and-count.

        Async only to share :class:`Rate` with the cluster's count; it never
        waits, so nothing runs between the check and the count.
        """
        wait = self.retry_after(key)
        if wait is None:
            self.record(key)
        return wait

    def record(self, key: str, now: float | None = None) -> None:
        now = trio.current_time() if now is None else now
        if len(self._events) >= self._max_keys:
            self._forget_quiet(now)
        events = self._recent(key, now)
        if events is None:
            events = self._events[key] = deque()
        events.append(now)

    def reset(self, key: str) -> None:
        self._events.pop(key, None)

    def forget(self, key: str, at: float) -> None:
        """Take back the event recorded for ``key`` at time ``at`` (an attempt that turned out fine)."""
        events = self._events.get(key)
        if events is None:
            return
        try:
            events.remove(at)
        except ValueError:
            return  # it has left the window already
        if not events:
            del self._events[key]

    def _forget_quiet(self, now: float) -> None:
        for key in list(self._events):
            self._recent(key, now)
        while len(self._events) >= self._max_keys:
            self._events.pop(next(iter(self._events)))
