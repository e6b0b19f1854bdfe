"""The session's half of presence subscriptions: ``watch``, handed to the registry.

The registry hides the session's user's blockers from what it answers and
pushes, reading them from the block cache, which this half fills first (so
that the registry never waits for the database). When a block concerning
the user changed while they were read, the cache holds none and the
registry declines: they are read again, a few times at most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.handle import SessionHandle
from actors.messages import Watch
from actors.ref import AskTimeout
from wire import events
from wire.presence import WatchPresence as WatchPresence  # the command, for the session's dispatch

if TYPE_CHECKING:
    from actors.session import SessionDeps

TRIES = 3
ASK_TIMEOUT = 10.0
"""Seconds the registry may take to take and answer a ``watch`` (it answers from memory)."""


async def request_watch(command: WatchPresence, session: SessionHandle, deps: SessionDeps) -> None:
    ref = command.ref
    for _ in range(TRIES):
        if deps.blocks is not None:
            try:
                await deps.blocks.relations(session.user.user_id)
            except Exception as exc:  # the database: nothing was done, the client may send it again
                message = f"the block list could not be read ({type(exc).__name__}); send watch again"
                session.deliver(events.error_frame("internal", message, ref))
                return
        try:
            done: bool = await deps.registry.ask(
                lambda reply: Watch(session, command.user_ids, ref, reply), ASK_TIMEOUT
            )
        except AskTimeout:
            session.deliver(
                events.error_frame("internal", "the server is too busy to watch; send it again", ref)
            )
            return
        if done:
            return
    session.deliver(events.error_frame("internal", "your block list kept changing; send watch again", ref))
