"""Frames in and out: strict JSON parsing into typed commands, and encoding.

This is the pure core of the session's reader: no tasks, no sockets. A frame
is either a command dataclass or a :class:`FrameError` naming the documented
error code to answer with. The parser is strict where lenient JSON would let
two peers read one frame differently: duplicate keys, ``NaN``/``Infinity``,
lone surrogates and nesting deeper than :data:`MAX_DEPTH` are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
MAX_REF_LENGTH = 64
MAX_ID_LENGTH = 64

Ref = str | int | None

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Join:
    room_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Leave:
    room_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SendGroup:
    room_id: str
    content: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SendPrivate:
    target_id: str
    content: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class AskOnline:
    room_id: str | None
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: Ref = None


Command = Join | Leave | SendGroup | SendPrivate | AskOnline | Ping


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str
    ref: Ref = None


class _Invalid(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _Invalid(f"{name} is not allowed in JSON")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Invalid("duplicate keys in an object")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_no_constants)


def _check(value: Any, depth: int) -> None:
    """Refuse nesting past MAX_DEPTH and strings holding a lone surrogate."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            raise _Invalid("a string holds a lone surrogate")
    elif isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise _Invalid(f"JSON nested deeper than {MAX_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                raise _Invalid("a key holds a lone surrogate")
            _check(item, depth + 1)


def decode_json(text: str) -> Any:
    """Parse one frame's JSON strictly; raise ValueError with a reason a client can act on."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise _Invalid(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not valid JSON: {exc.msg} at position {exc.pos}") from None
    _check(value, 1)
    return value


def _read_ref(obj: dict[str, Any]) -> Ref:
    ref = obj.get("ref")
    if ref is None:
        return None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise _Invalid("ref must be a string of at most 64 characters or an integer")
    if isinstance(ref, str) and len(ref) > MAX_REF_LENGTH:
        raise _Invalid("ref must be a string of at most 64 characters or an integer")
    return ref


def _field(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string")
    return value


def _identifier(obj: dict[str, Any], name: str) -> str:
    value = _field(obj, name)
    if not value or len(value) > MAX_ID_LENGTH:
        raise _Invalid(f"{name} must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


class ContentTooLong(Exception):
    pass


def _content(obj: dict[str, Any], max_chars: int) -> str:
    content = _field(obj, "content")
    if not content:
        raise _Invalid("content must not be empty")
    if len(content) > max_chars:
        raise ContentTooLong(f"content is longer than {max_chars} characters")
    return content


_OBJECT_START = re.compile(r"[ \t\n\r]*\{")

REF_READ_MAX = 512
"""Frames up to this many characters are read for their ``ref`` even when refused unread (:func:`ref_of`)."""


def frame_size(frame: str | bytes) -> int:
    """The frame's size in bytes, as the flood limit charges it (exact for ASCII, cheap)."""
    if isinstance(frame, bytes) or frame.isascii():
        return len(frame)
    return len(frame.encode("utf-8", "surrogatepass"))


def ref_of(frame: str | bytes) -> Ref:
    """The ``ref`` of a frame refused before it was parsed, when it is small enough to read cheaply.

    A command is a few hundred bytes; the frames a flood sends are not, and
    reading them is what the refusal is there to avoid.
    """
    if not isinstance(frame, str) or len(frame) > REF_READ_MAX:
        return None
    return parse_command(frame, max_content=REF_READ_MAX).ref


def parse_command(frame: str | bytes, *, max_content: int) -> Command | FrameError:
    """Turn one client frame into a command, or into the error to answer it with."""
    if not isinstance(frame, str):
        return FrameError("bad_request", "binary frames are not accepted; send JSON text frames")
    if not _OBJECT_START.match(frame):
        # Refused without parsing: whatever follows, it is not one JSON object.
        return FrameError("bad_request", "a frame must hold one JSON object")
    try:
        obj = decode_json(frame)
    except ValueError as exc:
        return FrameError("bad_request", str(exc))
    if not isinstance(obj, dict):
        return FrameError("bad_request", "a frame must hold one JSON object")
    try:
        ref = _read_ref(obj)
    except _Invalid as exc:
        return FrameError("bad_request", str(exc))
    kind = obj.get("type")
    try:
        match kind:
            case "join":
                return Join(_identifier(obj, "room_id"), ref)
            case "leave":
                return Leave(_identifier(obj, "room_id"), ref)
            case "group":
                room_id = _identifier(obj, "room_id")
                return SendGroup(room_id, _content(obj, max_content), ref)
            case "private":
                target_id = _identifier(obj, "target_id")
                return SendPrivate(target_id, _content(obj, max_content), ref)
            case "online":
                wanted = None if obj.get("room_id") is None else _identifier(obj, "room_id")
                return AskOnline(wanted, ref)
            case "ping":
                return Ping(ref)
            case str():
                return FrameError("unknown_type", f"unknown command type {kind[:40]!r}", ref)
            case _:
                return FrameError("bad_request", "type must be a string naming a command", ref)
    except _Invalid as exc:
        return FrameError("bad_request", str(exc), ref)
    except ContentTooLong as exc:
        return FrameError("content_too_long", str(exc), ref)


@dataclass(frozen=True, slots=True)
class OutFrame:
    """One outgoing frame, ready for every receiver.

    ``wire`` is the whole RFC 6455 frame (for chat, a text frame holding the
    JSON). A server's frames are never masked, so those bytes are the same for
    every member of a room: a broadcast builds them once, and the writer only
    concatenates what a session has queued into one socket write.
    """

    wire: bytes


PING = OutFrame(b"\x89\x00")
"""A WebSocket ping with no payload (RFC 6455 section 5.5.2); the client's pong keeps it alive."""


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked, final, uncompressed text frame (RFC 6455 section 5.2) holding ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


def _unencodable(obj: object) -> Any:
    raise TypeError(f"{type(obj).__name__} values cannot go into a frame: convert them to JSON types first")


def _json_encoder() -> Callable[[Any], str]:
    """Compact JSON, UTF-8 as is, no NaN: the same text as ``json.dumps`` with those options.

    ``json.dumps`` with options builds a new encoder (and its C scanner) per
    call, which cost more than the encoding of a chat frame itself; this
    builds the C encoder once. Without the C accelerator, a reused
    ``JSONEncoder`` gives the same output.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    c_encode = make(None, _unencodable, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda obj: "".join(c_encode(obj, 0))


to_json = _json_encoder()


def encode(obj: dict[str, Any]) -> OutFrame:
    """One outgoing frame; every payload is serialised once, however many receive it."""
    return OutFrame(ws_text_frame(to_json(obj).encode()))


def with_ref(obj: dict[str, Any], ref: Ref) -> dict[str, Any]:
    if ref is not None:
        obj["ref"] = ref
    return obj


def error_frame(code: str, message: str, ref: Ref = None) -> OutFrame:
    return encode(with_ref({"type": "error", "code": code, "message": message}, ref))
