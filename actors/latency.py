"""How long a message took from the sender's command to its receivers' outboxes.

The actors record one observation per delivered message into fixed buckets of
plain ints; the web layer reads them at scrape time and exposes them as a
Prometheus histogram. Nothing here knows about Prometheus: an observation is a
``bisect`` and two additions, cheap enough for the delivery loop, and a scrape
reads the counts in the same thread, so it never sees half an observation.

One :class:`DeliveryLatency` per server, built by the composition root and
handed to the rooms (``group``) and the registry (``private``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

# Seconds. A delivery waits for one group commit: on an idle server with
# SQLite half of them take under 0.5 ms, so the low end resolves that, and the
# high end a database that is falling behind.
DELIVERY_BUCKETS: tuple[float, ...] = (
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    """Counts as Prometheus wants them: cumulative per upper bound, the last one +Inf."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]  # one more than bounds: the last is every observation
    total: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]


class LatencyHistogram:
    """Observations counted into fixed buckets, upper bounds inclusive (Prometheus ``le``)."""

    __slots__ = ("_bounds", "_counts", "_total")

    def __init__(self, bounds: Sequence[float] = DELIVERY_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("bucket bounds must be increasing and distinct")
        self._bounds = tuple(bounds)
        self._counts = [0] * (len(self._bounds) + 1)  # the last slot is above every bound
        self._total = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect_left(self._bounds, seconds)] += 1
        self._total += seconds

    def snapshot(self) -> LatencySnapshot:
        cumulative: list[int] = []
        running = 0
        for n in self._counts:
            running += n
            cumulative.append(running)
        return LatencySnapshot(self._bounds, tuple(cumulative), self._total)


class DeliveryLatency:
    """Send-to-deliver latency of one server, by kind of message."""

    __slots__ = ("group", "private")

    def __init__(self, bounds: Sequence[float] = DELIVERY_BUCKETS) -> None:
        self.group = LatencyHistogram(bounds)
        self.private = LatencyHistogram(bounds)

    def by_kind(self) -> dict[str, LatencySnapshot]:
        return {"group": self.group.snapshot(), "private": self.private.snapshot()}
