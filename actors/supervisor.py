"""A one_for_one supervisor with an OTP-style restart intensity.

Contract:

* **Owner**: whoever runs :meth:`Supervisor.run` (the composition root for the
  room supervisor). The supervisor owns a nursery; every child runs inside it.
* **Children** are ``async def child(mailbox, ref, *, task_status)`` functions.
  The supervisor creates the child's mailbox once and keeps it across
  restarts, so refs held by others stay valid and messages queued behind the
  one that crashed the child are still delivered to its next incarnation.
* **Failure policy**: a child that raises is logged once (``crashed``, with
  its traceback) and started again (``restarted``). When a child crashes more
  than ``max_restarts`` times within ``period`` seconds the supervisor logs
  ``gave_up`` and raises :class:`SupervisorGaveUp`, which cancels its other
  children and escalates to its own parent: a server whose rooms keep dying
  should stop loudly rather than answer HTTP with dead actors behind it.
* A child that returns normally is ``stopped`` and not restarted; the string it
  returns, if any, is the reason logged (a room stopping for idleness says so).
  Starting the same actor id again later is a new child with a new mailbox.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import trio

from actors.logs import supervision_event
from actors.ref import ActorRef, open_mailbox

M = TypeVar("M")


class ChildFn(Protocol[M]):
    def __call__(
        self,
        mailbox: trio.MemoryReceiveChannel[M],
        ref: ActorRef[M],
        *,
        task_status: trio.TaskStatus[None] = ...,
    ) -> Awaitable[str | None]: ...


@dataclass(frozen=True, slots=True)
class RestartIntensity:
    """At most ``max_restarts`` restarts of one child within ``period`` seconds."""

    max_restarts: int
    period: float


class SupervisorGaveUp(Exception):
    """A child exceeded the restart intensity; the supervisor escalates."""


@dataclass(frozen=True, slots=True)
class ChildStats:
    actor_id: str
    restarts: int
    mailbox_depth: int
    mailbox_capacity: int


class _StartedSignal:
    """Forwards the first ``started()`` of a child to the supervisor's caller."""

    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started

    def started(self, value: Any = None) -> None:
        self._on_started()


class Supervisor:
    """Runs children one_for_one; see the module docstring for the contract."""

    def __init__(self, name: str, intensity: RestartIntensity, *, parent: str = "root") -> None:
        self.name = name
        self.parent = parent
        self.intensity = intensity
        self._nursery: trio.Nursery | None = None
        self._restarts: dict[str, int] = {}
        self._refs: dict[str, ActorRef[Any]] = {}
        self.restarts_total = 0
        """Every restart since start-up, of children running or stopped since (a counter for metrics)."""

    async def run(self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        supervision_event(self.name, "started", parent=self.parent)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started(self)
                await trio.sleep_forever()
        finally:
            self._nursery = None
            supervision_event(self.name, "stopped", parent=self.parent)

    async def start_child(self, actor_id: str, child: ChildFn[M], capacity: int) -> ActorRef[M]:
        """Start ``child`` under supervision and return its ref once it is ready."""
        if self._nursery is None:
            raise RuntimeError(f"supervisor {self.name} is not running")
        ref: ActorRef[M]
        mailbox: trio.MemoryReceiveChannel[M]
        ref, mailbox = open_mailbox(actor_id, capacity)
        self._refs[actor_id] = ref
        self._restarts[actor_id] = 0
        await self._nursery.start(self._keep, actor_id, child, ref, mailbox)
        return ref

    def statistics(self) -> list[ChildStats]:
        out = []
        for actor_id, ref in self._refs.items():
            s = ref.stats()
            out.append(ChildStats(actor_id, self._restarts[actor_id], s.depth, s.capacity))
        return out

    async def _keep(
        self,
        actor_id: str,
        child: ChildFn[M],
        ref: ActorRef[M],
        mailbox: trio.MemoryReceiveChannel[M],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        recent: deque[float] = deque()
        first = True

        def on_started() -> None:
            nonlocal first
            if first:
                first = False
                supervision_event(actor_id, "started", parent=self.name)
                task_status.started()
            else:
                supervision_event(
                    actor_id,
                    "restarted",
                    parent=self.name,
                    reason=f"restart {self._restarts[actor_id]}",
                )

        with mailbox:
            while True:
                try:
                    reason = await child(mailbox, ref, task_status=_StartedSignal(on_started))
                except Exception as exc:
                    supervision_event(actor_id, "crashed", parent=self.name, reason=_describe(exc), exc=exc)
                    now = trio.current_time()
                    recent.append(now)
                    while recent and now - recent[0] > self.intensity.period:
                        recent.popleft()
                    if len(recent) > self.intensity.max_restarts:
                        reason = (
                            f"{len(recent)} crashes within {self.intensity.period:g}s "
                            f"(limit {self.intensity.max_restarts})"
                        )
                        supervision_event(actor_id, "gave_up", parent=self.name, reason=reason)
                        raise SupervisorGaveUp(f"{self.name} gave up on {actor_id}: {reason}") from exc
                    self._restarts[actor_id] += 1
                    self.restarts_total += 1
                    continue
                supervision_event(actor_id, "stopped", parent=self.name, reason=reason or "returned")
                if self._refs.get(actor_id) is ref:  # not a newer child of the same id, started meanwhile
                    del self._refs[actor_id]
                return


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
