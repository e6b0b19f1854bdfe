"""Block lists on the wire: the ``block`` and ``unblock`` commands.

::

    {"type": "block" | "unblock", "user_id", "ref"?}

Each is answered with ``{"type": "block_changed", "user", "blocked", "ref"}``
(:func:`wire.events.block_changed`), which the user's other sessions also
receive, without ``ref``, when the list did change. Pure, like
:mod:`wire.commands`, which parses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wire.commands import Ref

BLOCK_COMMANDS = frozenset({"block", "unblock"})


@dataclass(frozen=True, slots=True)
class ChangeBlock:
    """Add ``user_id`` to the session's user's block list (``block``), or take it out."""

    user_id: str
    block: bool
    ref: Ref = None
