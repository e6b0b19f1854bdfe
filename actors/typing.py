"""Typing notices: who may be shown typing in a room, and how often.

A client sends ``{"type":"typing","room_id"}`` while its user types; the
room tells its other sessions ``typing`` with the user and how long to show
it (:func:`wire.events.typing`). Nothing is stored, and nothing is answered
on success: a notice is a hint, and a dropped one is renewed by the next.

Contract:

* **Owner**: one :class:`TypingGate` per room actor incarnation; only the
  room's task calls it.
* **Rate**: a session's notices reach the room's members at most once every
  :data:`TYPING_EVERY` seconds; the ones between are dropped, not refused,
  since a client sends one per keystroke or so. The flood limit bounds the
  frames themselves.
* **Muted** users are never shown typing.
* **Bounded**: one time per session that typed, pruned to the members
  whenever it outgrows them.
"""

from __future__ import annotations

import trio

from actors.room_state import RoomState
from wire.clock import now_ms

TYPING_EVERY = 2.0
"""Seconds between two notices of one session that the room passes on."""


class TypingGate:
    def __init__(self, state: RoomState) -> None:
        self._state = state
        self._last: dict[str, float] = {}  # session id -> when its last notice was passed on (Trio clock)

    def passes(self, session_id: str, user_id: str) -> bool:
        """Whether this notice goes to the room: not too soon after the session's last, not from the muted."""
        moderation = self._state.moderation
        if moderation.mutes and moderation.mute_of(user_id, now_ms()) is not None:
            return False
        now = trio.current_time()
        last = self._last.get(session_id)
        if last is not None and now - last < TYPING_EVERY:
            return False
        if len(self._last) > 2 * len(self._state.members) + 16:
            self._last = {s: t for s, t in self._last.items() if self._state.is_member(s)}
        self._last[session_id] = now
        return True
