"""The contract's rules for usernames, passwords, room names and paging."""

from __future__ import annotations

import unicodedata
from typing import Any

from web.errors import ApiError

USERNAME_MAX = 32
PASSWORD_MIN, PASSWORD_MAX = 8, 128
ROOM_NAME_MAX = 64
HISTORY_DEFAULT, HISTORY_MAX = 50, 200

_PUNCTUATION = frozenset("_.-")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _allowed(ch: str, first: bool) -> bool:
    if ch in _PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    if category.startswith("L") or category == "Nd":
        return True
    # Combining marks complete letters in many scripts (Devanagari, Thai...), never lead.
    return category.startswith("M") and not first


def username(value: Any) -> str:
    """NFC-normalised username, or a 400 saying what is allowed."""
    if not isinstance(value, str):
        raise bad_request("username must be a string")
    name = unicodedata.normalize("NFC", value)
    if not 1 <= len(name) <= USERNAME_MAX or not all(_allowed(ch, i == 0) for i, ch in enumerate(name)):
        raise bad_request(
            f"username must be 1 to {USERNAME_MAX} letters (any script), digits, '_', '.' or '-'"
        )
    return name


def password(value: Any) -> str:
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise bad_request(f"password must be a string of {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return value


def room_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > ROOM_NAME_MAX:
        raise bad_request(f"name must be 1 to {ROOM_NAME_MAX} characters and not blank")
    return value


def _positive_int(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise bad_request(f"{name} must be a positive integer")
    return int(raw)


def paging(args: Any) -> tuple[int | None, int]:
    """``before`` and ``limit`` from a query string, as the history endpoints take them."""
    before_raw, limit_raw = args.get("before"), args.get("limit")
    before = None if before_raw is None else _positive_int(before_raw, "before")
    limit = HISTORY_DEFAULT
    if limit_raw is not None:
        limit = _positive_int(limit_raw, "limit")
        if not 1 <= limit <= HISTORY_MAX:
            raise bad_request(f"limit must be from 1 to {HISTORY_MAX}")
    if before is not None and before < 1:
        raise bad_request("before must be a positive integer")
    return before, limit
