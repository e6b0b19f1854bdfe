"""The peer: a minimal python-socketio chat with our room semantics, for a fair comparison.

python-socketio's AsyncServer (ASGI mode) served by uvicorn with its fastest stack
(uvloop, httptools, the `websockets-sansio` protocol implementation, measured
fastest of uvicorn's three here), one process, logging
at WARNING and no access log: what a team would deploy for a small socket.io chat.

Semantics mirror PROTOCOL.md where the scenarios touch it:
- connect: `auth={"username": ...}` (no password or JWT check: the peer is not asked
  to authenticate, which flatters it slightly);
- event `join` {room_id} -> ack `{"type":"joined","room_id","users":[...]}`;
- event `group` {room_id, content} -> the message (id increasing per room, ms
  timestamp, sender) emitted to every member of the room, sender included, then the
  ack `{"type":"ack","id","timestamp"}`; a sender outside the room gets
  `{"type":"error","code":"not_in_room"}`.
Nothing is stored: the peer has no persistence and is not run in that scenario.

Run: python -m bench.peer_server --port 8766
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(
    async_mode="asgi",
    cors_allowed_origins="*",
    logger=False,
    engineio_logger=False,
)
_users: dict[str, dict[str, str]] = {}
_room_ids: dict[str, itertools.count[int]] = {}


async def _healthz(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Readiness endpoint, same path as our server's, for the shared harness."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


app = socketio.ASGIApp(sio, other_asgi_app=_healthz)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> bool:
    username = str((auth or {}).get("username") or sid)
    _users[sid] = {"user_id": username, "username": username}
    return True


@sio.event
async def disconnect(sid: str, *args: Any) -> None:
    _users.pop(sid, None)


@sio.event
async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    room_id = str(data["room_id"])
    await sio.enter_room(sid, room_id)
    users = [_users[s] for s, _ in sio.manager.get_participants("/", room_id) if s in _users]
    return {"type": "joined", "room_id": room_id, "users": users}


@sio.event
async def group(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    room_id = str(data["room_id"])
    if room_id not in sio.rooms(sid):
        return {"type": "error", "code": "not_in_room", "message": "join the room first"}
    msg_id = next(_room_ids.setdefault(room_id, itertools.count(1)))
    ts = int(time.time() * 1000)
    message = {"type": "group", "id": msg_id, "content": data["content"],
               "sender": _users[sid], "timestamp": ts, "room_id": room_id}
    await sio.emit("group", message, room=room_id)
    return {"type": "ack", "id": msg_id, "timestamp": ts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools",
                ws="websockets-sansio", log_level="warning", access_log=False,
                backlog=8192, timeout_keep_alive=30)


if __name__ == "__main__":
    main()
