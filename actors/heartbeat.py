"""The heartbeat actor: the server's WebSocket pings, for every session at once.

Contract:

* **Actor id** ``heartbeat``; one per process, started by the composition root.
* **Behaviour**: every ``interval`` seconds it tells the registry
  :class:`actors.messages.PingSessions`, and the registry queues a prebuilt
  ping frame (:data:`actors.frames.PING`) to each session it knows. The
  client's pong is what keeps an idle connection under the transport's idle
  timeout (see :mod:`web.ws_transport`); a client that answers nothing is
  dropped there.
* **Why here**: a pinging task per connection (Hypercorn's way) would cost
  every idle connection a task that sleeps between pings. One timer for the whole server costs nothing per
  idle connection, and a ping goes through the same writer as every other
  frame, so it never cuts into one.
* **Failure policy**: nothing in it can fail but the registry going away,
  which only happens at shutdown; then it stops.
"""

from __future__ import annotations

import trio

from actors.logs import supervision_event
from actors.messages import PingSessions, RegistryMsg
from actors.ref import ActorGone, ActorRef


async def run_heartbeat(
    registry: ActorRef[RegistryMsg],
    interval: float,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    supervision_event("heartbeat", "started", parent="root", reason=f"ping every {interval:g}s")
    task_status.started()
    reason = ""
    try:
        while True:
            await trio.sleep(interval)
            await registry.tell(PingSessions())
    except ActorGone:
        reason = "the registry has stopped"
    finally:
        supervision_event("heartbeat", "stopped", parent="root", reason=reason)
