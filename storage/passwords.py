"""Password hashing with argon2id, off the Trio thread and behind a limit.

Hashing is deliberately slow (tens of milliseconds of CPU). It runs in worker
threads behind a small :class:`trio.CapacityLimiter`, so a burst of logins
queues here instead of occupying the event loop that carries chat traffic.
A login for an unknown user verifies against a dummy hash made with the same
parameters, so it costs the same work as a wrong password and a stopwatch
cannot tell the two apart.
"""

from __future__ import annotations

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class PasswordsBusy(Exception):
    """More hashes are waiting than the queue holds: answer "try again shortly" instead of queueing."""


class Passwords:
    """argon2id in ``concurrency`` worker threads, with at most ``max_waiting`` hashes queued for them.

    The bound is what keeps a burst of logins from occupying the workers for
    minutes: past it a request is refused at once (:class:`PasswordsBusy`),
    so the wait of those admitted stays under ``max_waiting / concurrency``
    hash times (about 25 ms each).
    """

    def __init__(self, concurrency: int = 2, max_waiting: int = 64) -> None:
        self._limiter = trio.CapacityLimiter(concurrency)
        self._max_waiting = max_waiting
        self._dummy_hash = _HASHER.hash("not a real password, only burns time")

    def _admit(self) -> None:
        if self._limiter.statistics().tasks_waiting >= self._max_waiting:
            raise PasswordsBusy(f"{self._max_waiting} password checks are already waiting")

    async def hash(self, password: str) -> str:
        self._admit()
        return await trio.to_thread.run_sync(_HASHER.hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with ``stored_hash=None`` it burns the same time."""
        self._admit()
        target = self._dummy_hash if stored_hash is None else stored_hash

        def check() -> bool:
            try:
                return _HASHER.verify(target, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        ok = await trio.to_thread.run_sync(check, limiter=self._limiter)
        return ok and stored_hash is not None
