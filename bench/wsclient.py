"""Load-generator connections: our JSON protocol and socket.io, both on picows.

The generator shares two cores with the server, so a received frame must cost it as
little as possible. picows parses frames in Cython and calls one Python method per
frame with no task switch; here that method classifies the frame with a substring
test (`b'"group"' in payload`, or the socket.io prefix `42["group"`) and bumps a
counter. Only the frames a scenario really needs to read (joined replies, acks in
the persistence run, group messages in the latency run) are JSON-parsed.
`bench/clientlib.py` measures picows against `websockets` and `aiohttp` on the same
job, which is why picows is the default.

A fan-out member that only listens goes one step further once the run starts
(:meth:`BenchConn.count_raw`): its socket is handed from picows to a
:class:`RawCounter`, which counts group frames in the byte stream with one
``bytes.count`` per ``recv`` instead of one Python call per frame. Against a server
that batches frames per member, the per-frame call made the generator the
bottleneck.

socket.io is spoken directly (Engine.IO v4 over the websocket transport: `0` open,
`40` connect, `42[...]` events, `42<id>[...]`/`43<id>[...]` acks, `2`/`3` ping and
pong) rather than through python-socketio's client, whose per-event dispatch would
make the generator, not the peer, the bottleneck. `bench/clientlib.py --sio` checks
that the peer also works with the official client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

GroupHook = Callable[[bytes], None]


class RawCounter(asyncio.Protocol):
    """Counts ``pattern`` in a connection's raw bytes: group frames, for a member that only listens.

    Sound because every group frame carries the pattern exactly once (its
    ``"type"``, or socket.io's event name), no other frame carries it, and server
    frames are not masked. The last ``len(pattern) - 1`` bytes of each chunk are
    kept, so a pattern split between two reads is counted once. Frames are no
    longer answered (pings included): the runs are far shorter than any idle
    timeout.
    """

    def __init__(self, conn: BenchConn, pattern: bytes) -> None:
        self.conn = conn
        self.pattern = pattern
        self.keep = len(pattern) - 1
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        chunk = self.tail + data if self.tail else data
        found = chunk.count(self.pattern)
        if found:
            self.conn.groups += found
            self.conn.last_group_at = time.monotonic()
        self.tail = chunk[-self.keep :]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.raw_closed = True


class BenchConn(WSListener):
    """State common to both protocols: counters, the pending reply, close info."""

    GROUP_PATTERN = b""

    def __init__(self, index: int) -> None:
        self.index = index
        self.transport: WSTransport | None = None
        self.groups = 0
        self.acks = 0
        self.errors = 0
        self.system = 0
        self.last_frame_at = 0.0
        self.last_group_at = 0.0
        self.on_group: GroupHook | None = None
        self.on_ack: Callable[[bytes], None] | None = None
        self._reply: asyncio.Future[Any] | None = None
        self.closed_code: int | None = None
        self.raw_closed = False
        self.connected = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.closed_code is None:
            self.closed_code = 1006
        for fut in (self._reply, self.connected):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError(f"closed ({self.closed_code})"))

    def _control(self, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            self.closed_code = frame.get_close_code().value
            assert self.transport is not None
            self.transport.send_close(frame.get_close_code())
            self.transport.disconnect()

    def _resolve(self, value: Any) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(value)

    async def _ask(self, payload: bytes, limit_s: float) -> Any:
        assert self.transport is not None
        self._reply = asyncio.get_running_loop().create_future()
        self.transport.send(WSMsgType.TEXT, payload)
        return await asyncio.wait_for(self._reply, limit_s)

    def send_text(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, payload)

    def count_raw(self) -> None:
        """From now on count group frames in the byte stream, parsing nothing (a listening member)."""
        assert self.transport is not None
        self.transport.underlying_transport.set_protocol(RawCounter(self, self.GROUP_PATTERN))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send_close()
            self.transport.disconnect()

    @property
    def alive(self) -> bool:
        return self.transport is not None and not self.transport.is_disconnected and not self.raw_closed


class ChatConn(BenchConn):
    """A client of PROTOCOL.md's WebSocket (our server and the reference)."""

    GROUP_PATTERN = b'"group"'

    def on_ws_connected(self, transport: WSTransport) -> None:
        super().on_ws_connected(transport)
        self.connected.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            self._control(frame)
            return
        payload = frame.get_payload_as_bytes()
        if b'"group"' in payload:
            self.groups += 1
            self.last_group_at = time.monotonic()
            if self.on_group is not None:
                self.on_group(payload)
        elif b'"ack"' in payload:
            self.acks += 1
            if self.on_ack is not None:
                self.on_ack(payload)
        elif b'"system"' in payload:
            self.system += 1
            self.last_frame_at = time.monotonic()
        else:
            reply = json.loads(payload)
            if reply.get("type") == "error":
                self.errors += 1
                if self.on_ack is not None and self._reply is None:
                    self.on_ack(payload)
            self._resolve(reply)

    async def join(self, room_id: str, limit_s: float = 30.0) -> dict[str, Any]:
        cmd = json.dumps({"type": "join", "room_id": room_id}).encode()
        reply: dict[str, Any] = await self._ask(cmd, limit_s)
        self._reply = None
        if reply.get("type") != "joined":
            raise RuntimeError(f"join {room_id} refused: {reply}")
        return reply

    @staticmethod
    def group_frame(room_id: str, content: str) -> bytes:
        return json.dumps({"type": "group", "room_id": room_id, "content": content}).encode()

    @staticmethod
    def parse_group(payload: bytes) -> dict[str, Any]:
        msg: dict[str, Any] = json.loads(payload)
        return msg


class SioConn(BenchConn):
    """A socket.io v5 / Engine.IO v4 client over the websocket transport."""

    GROUP_PATTERN = b'42["group"'

    def __init__(self, index: int, username: str) -> None:
        super().__init__(index)
        self.username = username
        self._next_ack = 0

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            self._control(frame)
            return
        payload = frame.get_payload_as_bytes()
        if payload.startswith(b'42["group"'):
            self.groups += 1
            self.last_group_at = time.monotonic()
            if self.on_group is not None:
                self.on_group(payload)
        elif payload.startswith(b"43"):
            body = payload[payload.index(b"[") :]
            if b'"ack"' in body:
                self.acks += 1
                if self.on_ack is not None:
                    self.on_ack(body[1:-1])
            else:
                if b'"error"' in body:
                    self.errors += 1
                    if self.on_ack is not None and self._reply is None:
                        self.on_ack(body[1:-1])
                self._resolve(json.loads(body)[0])
        elif payload == b"2":
            transport.send(WSMsgType.TEXT, b"3")
        elif payload.startswith(b"0{"):
            auth = json.dumps({"username": self.username}).encode()
            transport.send(WSMsgType.TEXT, b"40" + auth)
        elif payload.startswith(b"40"):
            if not self.connected.done():
                self.connected.set_result(None)
        elif payload.startswith(b"44") and not self.connected.done():
            self.connected.set_exception(ConnectionError(payload.decode()))

    def _ack_id(self) -> int:
        self._next_ack += 1
        return self._next_ack

    async def join(self, room_id: str, limit_s: float = 30.0) -> dict[str, Any]:
        body = json.dumps(["join", {"room_id": room_id}]).encode()
        reply: dict[str, Any] = await self._ask(b"42%d" % self._ack_id() + body, limit_s)
        self._reply = None
        if reply.get("type") != "joined":
            raise RuntimeError(f"join {room_id} refused: {reply}")
        return reply

    def group_frame(self, room_id: str, content: str) -> bytes:
        body = json.dumps(["group", {"room_id": room_id, "content": content}]).encode()
        return b"42%d" % self._ack_id() + body

    @staticmethod
    def parse_group(payload: bytes) -> dict[str, Any]:
        msg: dict[str, Any] = json.loads(payload[2:])[1]
        return msg


async def open_conn(kind: str, url: str, index: int, username: str,
                    limit_s: float = 30.0) -> ChatConn | SioConn:
    """Connect one client; for socket.io also wait for the namespace connect."""
    conn: BenchConn
    if kind == "sio":
        conn = SioConn(index, username)
    else:
        conn = ChatConn(index)
    await ws_connect(lambda: conn, url, websocket_handshake_timeout=limit_s,
                     max_frame_size=1024 * 1024)
    await asyncio.wait_for(conn.connected, limit_s)
    assert isinstance(conn, ChatConn | SioConn)
    return conn
