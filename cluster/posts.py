"""How a room's numbered posts travel between processes: client frames, ready to send.

A room's posts are published on its channel by :data:`cluster.lua.NUMBER_POSTS`
as one publication per burst::

    P<origin> <first id>\\n<frame>\\n<frame>...

Each ``<frame>`` is the JSON text every member receives, whole: the sender
built it without its id (:func:`frame_text`) and the script put the id in
front. Ids are consecutive from ``<first id>``; ``<origin>`` is the process
that numbered them and will announce their commit.

Why not JSON objects, as every other publication is: a receiving process
would decode each message into fields only to encode the same frame again
for its members. Here it wraps the bytes it received in a WebSocket frame
(:func:`read`) and decodes nothing but the header; with members on two
processes that was a third of what the cluster mode added per message.
A frame holds no raw newline (JSON escapes it inside strings, and UTF-8
never uses the byte otherwise), so the line breaks are unambiguous.

Every other publication on a room's channel is a JSON object (a presence
notice), which never starts with ``P``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.interface import Draft
from wire.strict_json import to_json

MARK = b"P"


@dataclass(frozen=True, slots=True)
class Posts:
    """One burst of a room's posts as received: who numbered them, the first id, the frames' JSON in id order."""

    origin: str
    first: int
    frames: list[bytes]


def frame_text(draft: Draft, timestamp: int) -> str:
    """A group post's frame as members receive it, but without ``"id"``, which Redis puts in front."""
    frame: dict[str, Any] = {
        "type": "group",
        "content": draft.content,
        "sender": draft.sender.to_wire(),
        "timestamp": timestamp,
        "room_id": draft.room_id,
    }
    return to_json(frame)


def read(data: bytes) -> Posts | None:
    """The posts of a publication, or None when it is not a burst of posts (a JSON notice).

    Raises :class:`ValueError` on a header that does not parse.
    """
    if not data.startswith(MARK):
        return None
    lines = data.split(b"\n")
    origin, first = lines[0][1:].split(b" ")
    return Posts(origin.decode(), int(first), lines[1:])
