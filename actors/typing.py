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

from actors.handle import SessionHandle
from actors.room_state import RoomState
from wire import events
from wire.clock import now_ms
from wire.commands import Ref

TYPING_EVERY = 2.0
"""Seconds between two notices of one session that the room passes on."""


class TypingGate:
    def __init__(self, state: RoomState) -> None:
        self._state = state
        self._last: dict[str, float] = {}  # session id -> when its last notice was passed on (Trio clock)

    def admit(self, session: SessionHandle, ref: Ref) -> bool:
        """A member's notice that :meth:`passes`; a stranger is told ``not_in_room``."""
        if not self._state.is_member(session.session_id):
            room_id = self._state.info.room_id
            session.deliver(events.error_frame("not_in_room", f"join room {room_id} before typing", ref))
            return False
        return self.passes(session.session_id, session.user.user_id)

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


class PeerTypingGate:
    """Typing to private peers, in the registry: at most one notice per session and peer every :data:`TYPING_EVERY` s.

    Bounded: per session, the peers it typed to lately (at most :data:`PEERS_KEPT`,
    the oldest dropped first), forgotten when the session ends.
    """

    def __init__(self) -> None:
        self._last: dict[str, dict[str, float]] = {}  # session id -> peer id -> when last passed on

    def passes(self, session_id: str, peer_id: str) -> bool:
        now = trio.current_time()
        peers = self._last.setdefault(session_id, {})
        last = peers.get(peer_id)
        if last is not None and now - last < TYPING_EVERY:
            return False
        peers.pop(peer_id, None)
        if len(peers) >= PEERS_KEPT:
            del peers[next(iter(peers))]
        peers[peer_id] = now
        return True

    def forget(self, session_id: str) -> None:
        self._last.pop(session_id, None)


PEERS_KEPT = 64
"""Peers a session's typing times are kept for; one typing to more at once is simply passed on more."""
