"""Run configuration: scenario sizes, time bounds and the CPU split.

Every load loop of the harness is bounded twice, by a count and by a time, so a
server that stalls or a generator that falls behind still ends the run. The
defaults are the sizes the issue asks for; `--quick` shrinks them for a smoke run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class RunConfig:
    """Sizes and limits of one `python -m bench` invocation."""

    targets: tuple[str, ...] = ("reference", "ours", "peer")
    scenarios: tuple[str, ...] = ("fanout", "chatty", "idle", "persist")
    # fan-out: one room, one sender with `fanout_window` unacknowledged messages.
    fanout_members: tuple[int, ...] = (100, 1000)
    fanout_window: int = 64
    fanout_messages: dict[int, int] = field(
        default_factory=lambda: {100: 20_000, 1000: 3_000})
    fanout_seconds: float = 15.0
    content_chars: int = 64
    # chatty rooms: `chatty_users` in rooms of `chatty_room_size`, `chatty_rate` msg/s each.
    chatty_users: int = 1000
    chatty_room_size: int = 10
    chatty_rate: float = 1.0
    chatty_seconds: float = 30.0
    # idle capacity: authenticated connections, each joined to one room.
    idle_connections: int = 5000
    idle_room_size: int = 10
    idle_settle_seconds: float = 5.0
    # persistence: senders in rooms, each with `persist_window` messages in flight.
    persist_senders: int = 200
    persist_room_size: int = 4
    persist_window: int = 4
    persist_seconds: float = 15.0
    persist_max_messages: int = 200_000
    # how long receivers may lag behind the last send before messages count as lost.
    drain_seconds: float = 15.0
    # CPU split: the server on `server_cpus`, the generator's workers on `gen_cpus`.
    server_cpus: frozenset[int] | None = frozenset({0})
    gen_cpus: frozenset[int] | None = frozenset({1})
    gen_workers: int = 1
    idle_gen_workers: int = 2
    # when set, py-spy samples our server during fan-out into this folder.
    profile_dir: str | None = None

    def quick(self) -> RunConfig:
        """Small sizes for a smoke run of the whole pipeline (about two minutes)."""
        return replace(
            self,
            fanout_members=(100,),
            fanout_messages={100: 3_000, 1000: 500},
            fanout_seconds=5.0,
            chatty_users=100,
            chatty_seconds=5.0,
            idle_connections=300,
            idle_settle_seconds=2.0,
            persist_senders=40,
            persist_seconds=5.0,
            drain_seconds=10.0,
        )
