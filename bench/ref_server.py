"""The reference: the cheapest broadcast server we can write, to show the generator's ceiling.

It speaks just enough of PROTOCOL.md for the fan-out scenario (`join` -> `joined`,
`group` -> `ack` plus the `group` message to every member, sender included) and
nothing else: no authentication (any `?token=` is accepted and used as the user
name), no storage, no validation. It encodes each group message once, as JSON and as the
complete WebSocket frame, and queues those bytes for every member from the frame
callback (picows on uvloop, no tasks per connection). Once per turn of the event
loop it writes each member's queued frames with one `write()`, the way our server's
writer actor does, so a member that is sent a burst costs one system call, not one
per frame (`--per-frame` restores one `send()` per frame). If the load generator
reports N deliveries/s against this server, the generator can receive at least N/s.

Run: python -m bench.ref_server --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import time
from urllib.parse import parse_qs, urlsplit

import uvloop
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

_rooms: dict[str, set[WSTransport]] = {}
_next_id = 0
_per_frame = False
_waiting: dict[WSTransport, list[bytes]] = {}  # members with frames for this turn's flush


def _text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return b"\x81\x7e" + struct.pack("!H", n) + payload
    return b"\x81\x7f" + struct.pack("!Q", n) + payload


def _deliver(member: WSTransport, payload: bytes, frame: bytes) -> None:
    if _per_frame:
        member.send(WSMsgType.TEXT, payload)
        return
    queued = _waiting.get(member)
    if queued is not None:
        queued.append(frame)
        return
    if not _waiting:
        asyncio.get_running_loop().call_soon(_flush)
    _waiting[member] = [frame]


def _flush() -> None:
    waiting = list(_waiting.items())
    _waiting.clear()
    for member, frames in waiting:
        transport = member.underlying_transport
        if not transport.is_closing():
            transport.write(b"".join(frames))


class RefSession(WSListener):
    """One connection; rooms are created when first joined."""

    def __init__(self, username: str) -> None:
        self.user = {"user_id": username, "username": username}
        self.joined: set[str] = set()
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        for room_id in self.joined:
            _rooms.get(room_id, set()).discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        cmd = json.loads(frame.get_payload_as_bytes())
        kind = cmd.get("type")
        if kind == "group":
            self._post(transport, cmd)
        elif kind == "join":
            room_id = str(cmd["room_id"])
            _rooms.setdefault(room_id, set()).add(transport)
            self.joined.add(room_id)
            reply = {"type": "joined", "room": {"room_id": room_id, "name": room_id},
                     "users": [self.user]}
            self._reply(transport, reply, cmd)
        elif kind == "ping":
            self._reply(transport, {"type": "pong"}, cmd)
        else:
            self._reply(transport, {"type": "error", "code": "unknown_type",
                                    "message": "reference server"}, cmd)

    def _post(self, transport: WSTransport, cmd: dict[str, object]) -> None:
        global _next_id
        room_id = str(cmd["room_id"])
        members = _rooms.get(room_id)
        if members is None or transport not in members:
            self._reply(transport, {"type": "error", "code": "not_in_room",
                                    "message": "join first"}, cmd)
            return
        _next_id += 1
        ts = int(time.time() * 1000)
        self._reply(transport, {"type": "ack", "id": _next_id, "timestamp": ts}, cmd)
        payload = json.dumps({"type": "group", "id": _next_id, "content": cmd["content"],
                              "sender": self.user, "timestamp": ts,
                              "room_id": room_id}).encode()
        frame = _text_frame(payload)
        for member in members:
            _deliver(member, payload, frame)

    @staticmethod
    def _reply(transport: WSTransport, reply: dict[str, object], cmd: dict[str, object]) -> None:
        if "ref" in cmd:
            reply["ref"] = cmd["ref"]
        payload = json.dumps(reply).encode()
        _deliver(transport, payload, _text_frame(payload))  # in order with the room's frames


def _route(request: WSUpgradeRequest) -> RefSession | WSUpgradeResponseWithListener | None:
    url = urlsplit(request.path.decode())
    if url.path == "/healthz":
        ok = WSUpgradeResponse.create_ok_response(b'{"status":"ok"}')
        return WSUpgradeResponseWithListener(ok, None)
    if url.path != "/ws":
        return None
    token = parse_qs(url.query).get("token", ["anonymous"])[0]
    return RefSession(token)


async def _serve(host: str, port: int) -> None:
    server = await ws_create_server(_route, host, port, max_frame_size=64 * 1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--per-frame", action="store_true", help="one send() per frame, no coalescing")
    args = parser.parse_args()
    global _per_frame
    _per_frame = args.per_frame
    uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
