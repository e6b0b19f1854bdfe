"""Supervision events: one structured log line per actor lifecycle event.

Operators read these lines to learn which actor started, stopped, crashed,
was restarted or made its supervisor give up. Each line carries the fields
``actor``, ``event``, ``parent`` and ``reason`` as ``extra`` attributes; the
formatters in ``web.logging_setup`` print them as JSON keys or as text.
"""

from __future__ import annotations

import logging
from typing import Literal

log = logging.getLogger("actors.supervision")

Event = Literal["started", "stopped", "crashed", "restarted", "gave_up"]

_LEVELS: dict[Event, int] = {
    "started": logging.INFO,
    "stopped": logging.INFO,
    "crashed": logging.ERROR,
    "restarted": logging.WARNING,
    "gave_up": logging.CRITICAL,
}


def supervision_event(
    actor: str,
    event: Event,
    *,
    parent: str,
    reason: str = "",
    exc: BaseException | None = None,
) -> None:
    """Log one lifecycle event; pass ``exc`` only for ``crashed`` so a traceback appears once."""
    log.log(
        _LEVELS[event],
        "%s %s (parent=%s)%s",
        actor,
        event,
        parent,
        f": {reason}" if reason else "",
        exc_info=exc,
        extra={"actor": actor, "event": event, "parent": parent, "reason": reason},
    )
