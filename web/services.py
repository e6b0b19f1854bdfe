"""What the HTTP and WebSocket handlers reach: the running server's parts.

The composition root (``web.server``) builds one :class:`Services` and hands
it to :func:`web.app.create_app`; handlers get it with :func:`services`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from prometheus_client import CollectorRegistry
from quart import current_app

from actors.block_lists import BlockLists
from actors.joined_rooms import JoinedRooms
from actors.journal import Journal
from actors.latency import DeliveryLatency
from actors.messages import RegistryMsg
from actors.read_markers import ReadMarkers
from actors.ref import ActorRef
from actors.registry import Registry
from actors.rooms import RoomSupervisor
from actors.writer import Writer
from storage.database import Database
from storage.passwords import Passwords
from web.client_address import ClientAddress
from web.config import Config
from web.login_throttle import Logins
from web.ratelimit import Rate
from web.revocation import Revocations
from web.tokens import TokenService


@dataclass(slots=True)
class Limits:
    """The throttles: in this process, or in the cluster mode counted in Redis (:mod:`web.cluster_limits`)."""

    login: Logins
    register_by_address: Rate
    room_creations_by_user: Rate
    user_lookups_by_user: Rate
    """Names one account may look up: registration answers "taken" only 20 times a minute per address,
    and the lookup must not be a faster way to learn which accounts exist."""
    session_refreshes_by_address: Rate
    """Refresh-cookie exchanges (:mod:`web.refresh_cookie`) per client address."""
    block_changes_by_user: Rate
    """Blocks and unblocks per account, over HTTP and WebSocket alike (:mod:`actors.block_lists`)."""
    message_changes_by_user: Rate
    """Edits and deletes of room messages per account (:mod:`actors.revisions`)."""
    enabled: bool
    rooms_per_user: int  # lifted, like the rates, when ``enabled`` is false


@dataclass(slots=True)
class Services:
    config: Config
    db: Database
    journal: Journal
    registry: Registry
    registry_ref: ActorRef[RegistryMsg]
    rooms: RoomSupervisor
    writer: Writer
    tokens: TokenService
    passwords: Passwords
    limits: Limits
    client_address: ClientAddress
    revocations: Revocations
    latency: DeliveryLatency  # the same one the rooms and the registry record into
    metrics: CollectorRegistry  # this server's own, scraped at /metrics (web.metrics.register_collectors)
    read_markers: ReadMarkers | None = None
    """Pending read markers (:mod:`actors.read_markers`), which the unread counts add to what is stored."""
    joined_rooms: JoinedRooms | None = None
    """Joins and leaves not written yet (:mod:`actors.joined_rooms`), which ``GET /me/rooms`` adds."""
    blocks: BlockLists | None = None
    """Block lists (:mod:`actors.block_lists`): the endpoints change them, the online list reads them."""
    ready: bool = False
    serving: Callable[[], bool] = lambda: True
    """Whether a new session can be served now (the cluster mode: its Redis subscription is live)."""
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


def services() -> Services:
    return cast(Services, current_app.extensions["chat"])
