"""Scenario 4, persistence: acknowledged (hence committed) messages per second.

PROTOCOL.md makes an ack a promise that the message is stored. Every member of every
room sends, keeping `persist_window` messages unacknowledged, so the server always
has many commits waiting and can batch them if it knows how. The figure is acks per
second over the bounded send time. Afterwards the newest id in each room's history
(HTTP API) must be at least the highest id acked in that room: an ack for a message
the history does not hold would break the promise.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bench import accounts as api
from bench.config import RunConfig
from bench.scenarios.common import (
    clients_in_rooms,
    content_of,
    measured_run,
    pin_server,
    process_cpu,
    start_fleet,
)
from bench.targets import Target
from bench.worker import Channel, Conn, WorkerSpec, close_all, closed_codes, connect_all


async def drive(target: Target, cfg: RunConfig) -> dict[str, Any]:
    """Conductor side: returns acks/s and the history cross-check."""
    n, size = cfg.persist_senders, cfg.persist_room_size
    accounts, rooms, clients = await clients_in_rooms(target, n, size, "persist")
    params = {"window": cfg.persist_window, "seconds": cfg.persist_seconds,
              "max_messages": cfg.persist_max_messages // max(1, cfg.gen_workers),
              "content_chars": cfg.content_chars}
    pin_server(target, cfg)
    fleet, _ = await start_fleet(target, cfg, "persist", clients, params, cfg.gen_workers)
    try:
        async with measured_run(target, cfg, fleet, "persist", cfg.persist_seconds) as meter:
            results = await fleet.gather("result", limit_s=cfg.persist_seconds + 120)
    finally:
        fleet.close()
    acked = sum(r["acked"] for r in results)
    seconds = max(max(r["seconds"] for r in results), 1e-9)
    max_acked: dict[str, int] = {}
    for r in results:
        for room, msg_id in r["max_id"].items():
            max_acked[room] = max(max_acked.get(room, 0), msg_id)
    missing = None
    if target.has_http_api:
        token = accounts[0].token
        newest = await asyncio.gather(*(api.newest_message_id(target.base_url, token, room)
                                        for room in max_acked))
        missing = sum(1 for (room, top), got in zip(max_acked.items(), newest, strict=True)
                      if got is None or got < top)
    return {
        "senders": n,
        "rooms": len(rooms),
        "window": cfg.persist_window,
        "messages_sent": sum(r["sent"] for r in results),
        "acked": acked,
        "errors": sum(r["errors"] for r in results),
        "acks_per_s": acked / seconds,
        "rooms_with_acked_message_missing_from_history": missing,
        "server_cpu_util": round(meter.utilisation, 3),
        "server_cpu_us_per_ack": 1e6 * meter.cpu / max(acked, 1),
        "closed": {k: v for r in results for k, v in r["closed"].items()},
    }


def _pump(conn: Conn, room: str, state: dict[str, Any], content: str) -> None:
    """Install the ack hook that sends the next message of this connection."""

    def on_ack(payload: bytes) -> None:
        reply = json.loads(payload)
        if reply.get("type") == "ack":
            state["acked"] += 1
            state["max_id"][room] = max(state["max_id"].get(room, 0), int(reply["id"]))
        else:
            state["errors"] += 1
        state["in_flight"] -= 1
        state["last_ack"] = time.monotonic()
        if state["sent"] < state["max"] and state["last_ack"] < state["deadline"]:
            state["sent"] += 1
            state["in_flight"] += 1
            conn.send_text(conn.group_frame(room, content))

    conn.on_ack = on_ack


async def work(spec: WorkerSpec, chan: Channel) -> None:
    """Worker side: every connection pumps its window until time or count runs out."""
    conns = await connect_all(spec)
    chan.send("ready", {"connected": len(conns)})
    await chan.recv("go")
    cpu0 = process_cpu()
    p = spec.params
    t0 = time.monotonic()
    state: dict[str, Any] = {"sent": 0, "acked": 0, "errors": 0, "in_flight": 0,
                             "max": int(p["max_messages"]), "max_id": {},
                             "deadline": t0 + float(p["seconds"]), "last_ack": t0}
    content = content_of(int(p["content_chars"]), "persist")
    for k, conn in enumerate(conns):
        room = spec.clients[k].rooms[0]
        _pump(conn, room, state, content)
        for _ in range(int(p["window"])):
            if state["sent"] < state["max"]:
                state["sent"] += 1
                state["in_flight"] += 1
                conn.send_text(conn.group_frame(room, content))
    limit = float(p["seconds"]) + 30
    while state["in_flight"] > 0 and time.monotonic() - t0 < limit:
        if not any(c.alive for c in conns):
            break
        await asyncio.sleep(0.05)
    chan.send("result", {
        "sent": state["sent"], "acked": state["acked"], "errors": state["errors"],
        "seconds": state["last_ack"] - t0,
        "max_id": state["max_id"], "closed": closed_codes(conns),
        "cpu": process_cpu() - cpu0,
    })
    close_all(conns)
    await asyncio.sleep(0.2)
