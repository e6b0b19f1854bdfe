"""``/metrics``: the actors' ``statistics()`` and counters, exposed by prometheus-client.

Every running server owns one :class:`prometheus_client.CollectorRegistry`
(never the library's global one: tests run several servers in one process,
and each must report its own actors). On it sit :class:`ChatCollector`, which
reads the actors at scrape time rather than mirroring every change into
library objects on the hot path, and the library's process, platform and
garbage-collector collectors.

The library writes the numbers: a counter past 999,999 comes out exact
(``1.234567e+06``), where the hand-written ``{value:g}`` it replaces rounded
it to six digits, so ``rate()`` went flat and then jumped. The format follows
the scraper's ``Accept`` header (OpenMetrics for Prometheus, the 0.0.4 text
format otherwise).

A scrape runs in the event loop: reading the actors' state from another
thread could meet a dict in the middle of a change. Its cost is the size of
the room table plus a few small reads under ``/proc``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from quart import Response

from web.services import Services

DELIVERY_HISTOGRAM = "chat_message_delivery_seconds"


class ChatCollector:
    """The chat server's own series, read from its actors when scraped."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc

    def collect(self) -> Iterator[Metric]:
        svc = self._svc
        registry = svc.registry.statistics()
        yield GaugeMetricFamily(
            "chat_users_online", "Users with at least one live session.", registry.users_online
        )
        yield GaugeMetricFamily("chat_sessions", "Live WebSocket sessions.", registry.sessions)
        yield GaugeMetricFamily(
            "chat_registry_mailbox_depth", "Messages waiting in the registry mailbox.", registry.mailbox_depth
        )
        yield GaugeMetricFamily(
            "chat_registry_delivery_depth",
            "Private messages waiting for their commit before delivery.",
            registry.delivery_depth,
        )
        yield GaugeMetricFamily(
            "chat_presence_watching_sessions",
            "Sessions watching users' presence.",
            registry.watching_sessions,
        )
        yield GaugeMetricFamily(
            "chat_presence_watched_users", "Users watched by a session here.", registry.watched_users
        )

        rooms = svc.rooms.statistics()
        yield GaugeMetricFamily("chat_rooms_running", "Room actors running.", len(rooms))
        online = GaugeMetricFamily("chat_room_online", "Online users per running room.", labels=["room"])
        depth = GaugeMetricFamily(
            "chat_room_mailbox_depth", "Messages waiting in a room mailbox.", labels=["room"]
        )
        for room in rooms:
            online.add_metric([room.room_id], room.online)
            depth.add_metric([room.room_id], room.mailbox_depth)
        yield online
        yield depth
        yield CounterMetricFamily(
            "chat_room_restarts_total", "Room actor restarts by the supervisor.", svc.rooms.restarts()
        )

        journal = svc.journal
        yield GaugeMetricFamily(
            "chat_journal_pending", "Messages waiting for the next group commit.", journal.depth
        )
        yield CounterMetricFamily(
            "chat_messages_committed_total", "Messages stored.", journal.committed_messages
        )
        yield CounterMetricFamily(
            "chat_commits_total", "Group commits (transactions).", journal.committed_batches
        )

        for name, value in sorted(svc.counters.items()):
            yield CounterMetricFamily(f"chat_{name}_total", f"Count of {name.replace('_', ' ')}.", value)

        latency = HistogramMetricFamily(
            DELIVERY_HISTOGRAM,
            "Seconds from taking a client's group or private message to handing it, "
            "stored, to its receivers' outboxes.",
            labels=["kind"],
        )
        for kind, snapshot in svc.latency.by_kind().items():
            bounds = (*snapshot.bounds, math.inf)
            buckets = [(_le(b), float(n)) for b, n in zip(bounds, snapshot.cumulative, strict=True)]
            latency.add_metric([kind], buckets, snapshot.total)
        yield latency


def _le(bound: float) -> str:
    """A bucket's ``le`` label as the library writes its own: ``0.005``, ``1.0``, ``+Inf``."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def register_collectors(svc: Services) -> None:
    """Fill the server's own registry: its actors, its process, its interpreter."""
    registry = svc.metrics
    registry.register(ChatCollector(svc))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


def metrics_response(svc: Services, accept: str | None) -> Response:
    encode, content_type = choose_encoder(accept or "")
    return Response(encode(svc.metrics), content_type=content_type)
