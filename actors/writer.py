"""The writer actor: one task puts every session's outgoing frames on the wire.

Contract:

* **Actor id** ``writer``; one per process, started by the composition root
  before any session exists.
* **Mailbox**: the sessions that have frames waiting, handed over by
  :meth:`Writer.schedule`. A session is in it at most once at a time (it
  keeps a flag), so it is bounded by the number of sessions; the frames
  themselves wait in each session's own bounded outbox.
* **Writing**: for each scheduled session the writer calls
  :meth:`Writable.flush`, which writes everything the session has queued
  as one ``os.write`` when its socket has room. A socket that takes only
  part of it gets a *drain* task in the writer's nursery, which finishes
  that write with the transport's locked ``send`` (waiting as long as the socket needs) and
  then keeps draining the session until its outbox is empty; meanwhile the
  session stays off the fast path, so its frames keep their order and are
  never interleaved.
* **Why one task for all**: a writer task per session cost every idle
  connection a task and a wake-up per burst. Here a broadcast to a thousand
  members costs one wake-up of this task, after the room has queued every
  frame, and one system call per member; an idle connection costs nothing.
* **Failure policy**: a flush or drain that fails unexpectedly is that
  session's crash (logged, closed 1011); the writer carries on. The writer itself is
  not restarted: a crash escalates and stops the server, since no session
  could write without it.
"""

from __future__ import annotations

from typing import Protocol

import trio

from actors.handle import CLOSE_INTERNAL
from actors.logs import supervision_event


class Writable(Protocol):
    """A session as the writer sees it."""

    session_id: str

    def flush(self) -> bytes | None:
        """Write what is queued without waiting; the part the socket did not take, if any."""
        ...

    async def drain(self, rest: bytes) -> None:
        """Write ``rest`` however long it takes, then whatever queued behind it."""
        ...

    def request_close(self, code: int, reason: str) -> None: ...


class Writer:
    def __init__(self) -> None:
        self._ready: list[Writable] = []
        self._has_work = trio.Event()
        self._drains: trio.Nursery | None = None

    def schedule(self, session: Writable) -> None:
        """Have ``session`` flushed on the writer's next turn; never waits."""
        self._ready.append(session)
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
                    for session in ready:
                        try:
                            rest = session.flush()
                        except Exception as exc:
                            _session_crashed(session, exc)
                            continue
                        if rest is not None:
                            drains.start_soon(self._drain, session, rest)
        except Exception as exc:
            supervision_event("writer", "crashed", parent="root", reason=repr(exc), exc=exc)
            raise
        finally:
            supervision_event("writer", "stopped", parent="root")

    async def _drain(self, session: Writable, rest: bytes) -> None:
        try:
            await session.drain(rest)
        except Exception as exc:
            _session_crashed(session, exc)


def _session_crashed(session: Writable, exc: Exception) -> None:
    """A failure while writing one session's frames is that session's crash, not the writer's."""
    supervision_event(
        session.session_id, "crashed", parent="writer", reason=f"{type(exc).__name__}: {exc}", exc=exc
    )
    session.request_close(CLOSE_INTERNAL, "internal error")
