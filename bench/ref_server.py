"""The reference: the cheapest broadcast server we can write, to show the generator's ceiling.

It speaks just enough of PROTOCOL.md for the fan-out scenario (`join` -> `joined`,
`group` -> `ack` plus the `group` message to every member, sender included) and
nothing else: no authentication (any `?token=` is accepted and used as the user
name), no storage, no validation. It encodes each group message once and writes the
same bytes to every member from the frame callback (picows on uvloop, no tasks per
connection), so a delivery costs it little more than one `send()` system call. If
the load generator reports N deliveries/s against this server, the generator can
receive at least N/s, and any lower figure measured for another server is that
server's limit, not the generator's.

Run: python -m bench.ref_server --port 8765
"""

from __future__ import annotations

import argparse
import json
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
        for member in members:
            member.send(WSMsgType.TEXT, payload)

    @staticmethod
    def _reply(transport: WSTransport, reply: dict[str, object], cmd: dict[str, object]) -> None:
        if "ref" in cmd:
            reply["ref"] = cmd["ref"]
        transport.send(WSMsgType.TEXT, json.dumps(reply).encode())


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
    args = parser.parse_args()
    uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
