"""RFC 6455 framing for the server side of a chat socket, without I/O.

The transport (:mod:`transport.websocket`) feeds the bytes it reads into a
:class:`FrameReader` and gets back whole messages and control frames; the
frames the server sends are built here too (:func:`text_frame`,
:func:`close_frame`, :func:`pong_frame`, :data:`PING`).
It is written for this server, not as a general WebSocket library:

* **No extensions.** The handshake never negotiates one (no compression), so
  a frame with any RSV bit set is a protocol error.
* **Clients mask, the server does not.** An unmasked client frame is a
  protocol error; frames the server writes are built unmasked, so a frame
  built once is the same bytes for every receiver.
* **Bounded.** A message over ``max_message`` bytes, in one frame or in
  fragments, is refused with 1009 as soon as its length is known, before
  its payload is buffered. A message's fragments are gathered in one
  buffer, so they cost memory in proportion to their bytes however many
  there are, and a message in more than ``max_fragments`` fragments is
  refused with 1009 too (it is too big to process, if not in bytes): a
  stream of empty continuation frames would otherwise keep a connection
  busy (and growing) forever without ever completing.
* **Strict.** Invalid UTF-8 in a text message or a close reason is 1007;
  everything else RFC 6455 forbids (a reserved opcode, a fragmented or
  oversized control frame, a continuation out of place, an invalid close
  code) is 1002. The reader raises :class:`ProtocolError` carrying the
  close code; the transport answers with that close frame and hangs up.

Why our own: Hypercorn's path (h11 kept past the upgrade, wsproto's parser
and its event objects, a reassembly buffer, then an ASGI queue and a task
switch per message) cost a chat socket more than the rest of the server per
incoming message, and several kilobytes per idle connection. This reader
keeps one ``bytearray`` per connection and hands the session its text
directly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wire import close_codes

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

DEFAULT_MAX_FRAGMENTS = 128
"""Fragments one message may come in. Browsers send every message whole; a client library
that streams one sends a few. Each fragment costs a header to parse, so this bounds the work
one message can make."""

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class ProtocolError(Exception):
    """The client broke RFC 6455 (or the size limit): close with :attr:`code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The client's close frame; ``code`` is 1005 when it carried none."""

    code: int
    reason: str


Event = str | bytes | Ping | Pong | Close
"""A text message (``str``), a binary message (``bytes``) or a control frame."""


def unmask(payload: bytes | bytearray, mask: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``mask``, as one big-integer operation (fast in CPython)."""
    n = len(payload)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class FrameReader:
    """Incremental parser of client frames: :meth:`feed` bytes, then :meth:`next_event` until None."""

    __slots__ = (
        "_buffer",
        "_fragment_count",
        "_fragments",
        "_max",
        "_max_fragments",
        "_message_opcode",
        "_start",
    )

    def __init__(self, max_message: int, max_fragments: int = DEFAULT_MAX_FRAGMENTS) -> None:
        self._max = max_message
        self._max_fragments = max_fragments
        self._buffer = bytearray()
        self._start = 0  # bytes of _buffer already parsed
        self._message_opcode = 0  # opcode of a fragmented message in progress, or 0
        self._fragments = bytearray()  # the payload of the fragmented message so far
        self._fragment_count = 0

    def feed(self, data: bytes | bytearray) -> None:
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    def next_event(self) -> Event | None:
        """The next complete message or control frame, or None until more bytes are fed.

        Raises :class:`ProtocolError` for a frame the server must refuse.
        """
        while True:
            frame = self._next_frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode >= OP_CLOSE:
                return _control(opcode, payload)
            if opcode == OP_CONTINUATION:
                if not self._message_opcode:
                    raise ProtocolError(
                        close_codes.PROTOCOL_ERROR, "continuation frame without a message to continue"
                    )
                self._fragments += payload
                if not fin:
                    continue
                opcode, self._message_opcode = self._message_opcode, 0
                payload = bytes(self._fragments)
                self._fragments = bytearray()
                self._fragment_count = 0
            elif self._message_opcode:
                raise ProtocolError(
                    close_codes.PROTOCOL_ERROR, "new message before the fragmented one finished"
                )
            elif not fin:
                self._message_opcode = opcode
                self._fragments += payload
                continue
            if opcode == OP_TEXT:
                try:
                    return payload.decode("utf-8")
                except UnicodeDecodeError:
                    raise ProtocolError(close_codes.INVALID_DATA, "text message is not valid UTF-8") from None
            return payload

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        buf, start = self._buffer, self._start
        available = len(buf) - start
        if available < 2:
            return None
        first, second = buf[start], buf[start + 1]
        if first & 0x70:
            raise ProtocolError(close_codes.PROTOCOL_ERROR, "RSV bits set, but no extension was negotiated")
        opcode = first & 0x0F
        fin = bool(first & 0x80)
        if opcode >= OP_CLOSE:
            if opcode > OP_PONG:
                raise ProtocolError(close_codes.PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
            if not fin:
                raise ProtocolError(close_codes.PROTOCOL_ERROR, "fragmented control frame")
        elif opcode > OP_BINARY:
            raise ProtocolError(close_codes.PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
        if not second & 0x80:
            raise ProtocolError(close_codes.PROTOCOL_ERROR, "client frames must be masked")
        length = second & 0x7F
        header = 6
        if length == 126:
            header = 8
            if available < header:
                return None
            (length,) = _U16.unpack_from(buf, start + 2)
        elif length == 127:
            header = 14
            if available < header:
                return None
            (length,) = _U64.unpack_from(buf, start + 2)
            if length >> 63:
                raise ProtocolError(
                    close_codes.PROTOCOL_ERROR, "frame length has its most significant bit set"
                )
        if opcode >= OP_CLOSE:
            if length > 125:
                raise ProtocolError(close_codes.PROTOCOL_ERROR, "control frame payload over 125 bytes")
        elif len(self._fragments) + length > self._max:
            raise ProtocolError(close_codes.TOO_BIG, f"message over {self._max} bytes")
        end = start + header + length
        if len(buf) < end:
            return None
        if opcode < OP_CLOSE and (not fin or opcode == OP_CONTINUATION):
            self._fragment_count += 1
            if self._fragment_count > self._max_fragments:
                raise ProtocolError(
                    close_codes.TOO_BIG, f"message in more than {self._max_fragments} fragments"
                )
        mask = bytes(buf[start + header - 4 : start + header])
        payload = unmask(buf[start + header : end], mask)
        if end == len(buf):
            buf.clear()
            self._start = 0
        else:
            self._start = end
        return fin, opcode, payload


def _control(opcode: int, payload: bytes) -> Ping | Pong | Close:
    if opcode == OP_PING:
        return Ping(payload)
    if opcode == OP_PONG:
        return Pong(payload)
    if not payload:
        return Close(close_codes.NO_STATUS, "")
    if len(payload) == 1:
        raise ProtocolError(close_codes.PROTOCOL_ERROR, "close frame with a one-byte payload")
    (code,) = _U16.unpack_from(payload)
    if not close_codes.valid_from_peer(code):
        raise ProtocolError(close_codes.PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(close_codes.INVALID_DATA, "close reason is not valid UTF-8") from None
    return Close(code, reason)


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 1 << 16:
        return bytes((0x80 | opcode, 126)) + _U16.pack(n) + payload
    return bytes((0x80 | opcode, 127)) + _U64.pack(n) + payload


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final, uncompressed text frame (RFC 6455 section 5.2) holding ``payload``."""
    return _frame(OP_TEXT, payload)


PING = bytes((0x80 | OP_PING, 0))
"""A ping with no payload (RFC 6455 section 5.5.2); the client's pong keeps the connection alive."""


def pong_frame(payload: bytes) -> bytes:
    return _frame(OP_PONG, payload)


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with ``code`` and as much of ``reason`` as fits in a control frame (123 bytes)."""
    if code == close_codes.NO_STATUS:
        return _frame(OP_CLOSE, b"")
    data = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
    return _frame(OP_CLOSE, _U16.pack(code) + data)
