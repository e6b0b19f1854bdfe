"""A session's flood limit: how much a client may send, as two token buckets (frames and bytes).

A chat client sends a few frames a second and, on reconnecting, a burst of
joins. A client that sends far more (a script gone wrong, a flood) would
otherwise make its rooms, the journal and the database do the work of
storing and fanning out every frame; and big frames of pathological JSON
(``[{},{},...]``) would make the server's parser alone hold the event loop
for milliseconds each, which every other client feels as latency.

So each message is charged *before* it is parsed: one frame, and its size
in bytes. Past either budget it is refused with the contract's
``rate_limited`` error, naming the limit, and the connection stays open: the
client loses nothing it was not told about. The byte budget bounds what one
connection can make the parser do (at ``bytes_per_second`` of the worst JSON,
a fraction of a percent of a core).

Each bucket holds up to its burst and refills at its rate. The limit is
owned by the session's reader task and needs no lock; it reads the clock it
is given, so tests can drive it with any times.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FloodSettings:
    rate: float
    """Frames per second a session may keep sending."""
    burst: int
    """Frames a session may send at once after a quiet spell."""
    bytes_per_second: float = 32 * 1024
    """Bytes per second a session may keep sending."""
    byte_burst: int = 128 * 1024
    """Bytes a session may send at once; at least the largest message allowed."""


class FloodLimit:
    __slots__ = ("_bytes", "_last", "_settings", "_tokens")

    def __init__(self, settings: FloodSettings, now: float) -> None:
        self._settings = settings
        self._tokens = float(settings.burst)
        self._bytes = float(settings.byte_burst)
        self._last = now

    def allow(self, now: float, size: int = 0) -> bool:
        """Take one frame of ``size`` bytes at time ``now``; False when the client must slow down.

        A refused frame costs nothing, so a client that waits gets its budget back.
        """
        settings = self._settings
        elapsed = now - self._last
        self._last = now
        tokens = min(float(settings.burst), self._tokens + elapsed * settings.rate)
        budget = min(float(settings.byte_burst), self._bytes + elapsed * settings.bytes_per_second)
        if tokens >= 1.0 and budget >= size:
            self._tokens, self._bytes = tokens - 1.0, budget - size
            return True
        self._tokens, self._bytes = tokens, budget
        return False

    def refusal(self) -> str:
        settings = self._settings
        return (
            f"too much sent: at most {settings.rate:g} frames and {settings.bytes_per_second / 1024:g} KiB "
            f"per second, after a burst of {settings.burst} frames or {settings.byte_burst // 1024} KiB; "
            "slow down and resend"
        )
