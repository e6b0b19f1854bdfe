"""Paging of ``GET /api/v1/rooms``: ``limit`` and the opaque ``cursor``.

The list is ordered by ``(created_at, room_id)``, a key no two rooms share and
that a new room always extends at the end. A cursor is that key of the last
room a page held, as unpadded URL-safe base64 of ``<created_at>:<room_id>``.
Clients must treat it as opaque; the server accepts only a string it could
have produced itself (canonical encoding, canonical number, a room id of the
allowed length), so a mangled cursor is a clear 400 rather than a silently
different page.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Mapping

from web.validation import bad_request

ROOMS_DEFAULT, ROOMS_MAX = 50, 200
ROOM_ID_MAX = 64
_CURSOR_MAX = 400  # a 64-character id of 4-byte characters and a 19-digit time, in base64
_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")


def encode_cursor(created_at: int, room_id: str) -> str:
    raw = f"{created_at}:{room_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The ``(created_at, room_id)`` key inside a cursor this server gave out, or a 400."""
    refused = bad_request("cursor must be a next_cursor value from an earlier page, unchanged")
    if not 0 < len(cursor) <= _CURSOR_MAX or not _ALPHABET.issuperset(cursor):
        raise refused
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise refused from None
    created, colon, room_id = text.partition(":")
    if not colon or not created.isascii() or not created.isdigit() or len(created) > 18:
        raise refused
    if not 0 < len(room_id) <= ROOM_ID_MAX or encode_cursor(int(created), room_id) != cursor:
        raise refused
    return int(created), room_id


def room_paging(args: Mapping[str, str]) -> tuple[tuple[int, str] | None, int]:
    """``cursor`` (decoded, None for the first page) and ``limit`` from a query string."""
    limit_raw, cursor = args.get("limit"), args.get("cursor")
    limit = ROOMS_DEFAULT
    if limit_raw is not None:
        digits = limit_raw.isascii() and limit_raw.isdigit() and len(limit_raw) <= 3
        if not digits or not 1 <= int(limit_raw) <= ROOMS_MAX:
            raise bad_request(f"limit must be an integer from 1 to {ROOMS_MAX}")
        limit = int(limit_raw)
    return (None if cursor is None else decode_cursor(cursor)), limit
