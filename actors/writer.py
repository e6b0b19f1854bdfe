"""The writer actor: one task puts every session's outgoing frames on the wire.

Contract:

* **Actor id** ``writer``; one per process, started by the composition root
  before any session exists.
* **Mailbox**: the outboxes that have frames waiting, handed over by
  :meth:`Writer.schedule`. An outbox is in it at most once at a time (it
  keeps a flag), so it is bounded by the number of sessions; the frames
  themselves wait in each session's own bounded :class:`actors.outbox.Outbox`.
* **Writing**: for each scheduled outbox the writer calls
  :meth:`Outbox.flush`, which writes everything queued as one ``os.write``
  when the socket has room. A socket that takes only part of it gets a
  *drain* task in the writer's nursery, which finishes that write with the
  socket's locked ``send`` (waiting as long as the socket needs) and then
  keeps draining the outbox until it is empty; meanwhile that outbox stays
  off the fast path, so its frames keep their order and are never
  interleaved.
* **Why one task for all**: a writer task per session cost every idle
  connection a task and a wake-up per burst. Here a broadcast to a thousand
  members costs one wake-up of this task, after the room has queued every
  frame, and one system call per member; an idle connection costs nothing.
* **Failure policy**: a flush or drain that fails unexpectedly is that
  session's crash (logged, closed 1011); the writer carries on. The writer
  itself is not restarted: a crash escalates and stops the server, since no
  session could write without it.
"""

from __future__ import annotations

import trio

from actors.logs import supervision_event
from actors.outbox import Outbox
from wire import close_codes


class Writer:
    def __init__(self) -> None:
        self._ready: list[Outbox] = []
        self._has_work = trio.Event()

    def schedule(self, outbox: Outbox) -> None:
        """Have ``outbox`` flushed on the writer's next turn; never waits."""
        self._ready.append(outbox)
        self._has_work.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        supervision_event("writer", "started", parent="root")
        try:
            async with trio.open_nursery() as drains:
                task_status.started()
                while True:
                    await self._has_work.wait()
                    self._has_work = trio.Event()
                    ready, self._ready = self._ready, []
                    for outbox in ready:
                        try:
                            rest = outbox.flush()
                        except Exception as exc:
                            _session_crashed(outbox, exc)
                            continue
                        if rest is not None:
                            drains.start_soon(self._drain, outbox, rest)
        except Exception as exc:
            supervision_event("writer", "crashed", parent="root", reason=repr(exc), exc=exc)
            raise
        finally:
            supervision_event("writer", "stopped", parent="root")

    async def _drain(self, outbox: Outbox, rest: bytes) -> None:
        try:
            await outbox.drain(rest)
        except Exception as exc:
            _session_crashed(outbox, exc)


def _session_crashed(outbox: Outbox, exc: Exception) -> None:
    """A failure while writing one session's frames is that session's crash, not the writer's."""
    supervision_event(
        outbox.owner, "crashed", parent="writer", reason=f"{type(exc).__name__}: {exc}", exc=exc
    )
    outbox.crashed(close_codes.INTERNAL, "internal error")
