"""A session's flood limit: how many frames a client may send, as a token bucket.

A chat client sends a few frames a second and, on reconnecting, a burst of
joins. A client that sends far more (a script gone wrong, a flood) would
otherwise make its rooms, the journal and the database do the work of
storing and fanning out every frame. Past the limit each frame is refused
with the contract's ``rate_limited`` error, naming the limit, and the
connection stays open: the client loses nothing it was not told about.

The bucket holds up to ``burst`` frames and refills at ``rate`` frames per
second. It is owned by the session's reader task and needs no lock; it reads
the clock it is given, so tests can drive it with any times.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FloodSettings:
    rate: float
    """Frames per second a session may keep sending."""
    burst: int
    """Frames a session may send at once after a quiet spell."""


class FloodLimit:
    __slots__ = ("_last", "_settings", "_tokens")

    def __init__(self, settings: FloodSettings, now: float) -> None:
        self._settings = settings
        self._tokens = float(settings.burst)
        self._last = now

    def allow(self, now: float) -> bool:
        """Take one frame's token at time ``now``; False when the client must slow down."""
        settings = self._settings
        tokens = min(float(settings.burst), self._tokens + (now - self._last) * settings.rate)
        self._last = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

    def refusal(self) -> str:
        settings = self._settings
        return (
            f"too many frames: at most {settings.rate:g} per second after a burst of "
            f"{settings.burst}; slow down and resend"
        )
