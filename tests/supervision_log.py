"""The supervision log (:mod:`actors.logs`) as a test sees it: lines to read, and lines to wait for.

Operators learn from these lines that an actor started, stopped or crashed;
a test of a real server learns it the same way, by waiting for the line
instead of polling the server's tables or sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import trio

LOGGER = "actors.supervision"


class SupervisionLog(logging.Handler):
    """Keeps every supervision line; :meth:`wait_for` returns the first that matches, however early it came."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        # Supervision lines are logged by actors, in Trio's thread: setting the event is safe.
        if getattr(record, "event", None) is None:
            return
        self.records.append(record)
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    def events(self, actor: str) -> list[str]:
        """The events of one actor so far, in order."""
        return [r.event for r in self.records if r.actor == actor]  # type: ignore[attr-defined]

    def mark(self) -> int:
        """A place in the log: pass it to :meth:`wait_for` to wait only for lines logged after now."""
        return len(self.records)

    async def wait_for(
        self, event: str, actor: str | Callable[[str], bool], *, after: int = 0
    ) -> logging.LogRecord:
        """The first line of ``event`` for ``actor`` (an actor id, or a test of one); waits until it is logged."""
        matches = actor.__eq__ if isinstance(actor, str) else actor
        while True:
            for record in self.records[after:]:
                if record.event == event and matches(record.actor):  # type: ignore[attr-defined]
                    return record
            await self._changed.wait()

    @classmethod
    @contextmanager
    def attached(cls) -> Iterator[SupervisionLog]:
        """Collect the supervision lines logged inside the block (at INFO and above)."""
        logger = logging.getLogger(LOGGER)
        handler, level = cls(), logger.level
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
