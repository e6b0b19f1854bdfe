"""Scenario 3, idle capacity: what one authenticated, joined, silent connection costs.

The server's VmRSS is read once all accounts exist (the baseline), then again after
every connection is open, has joined its room and the server has had a few seconds
to settle; the difference divided by the number of connections is the memory per
connection. Sockets are spread over `idle_gen_workers` processes so that opening
5000 of them does not serialise behind one loop; each worker lifts its open-files
limit. Connections must stay open through the settle time (the server's pings are
answered automatically), and every one that closes is reported.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bench.config import RunConfig
from bench.procs import rss_kib
from bench.scenarios.common import clients_in_rooms, pin_server, start_fleet
from bench.targets import Target
from bench.worker import Channel, WorkerSpec, close_all, closed_codes, connect_all


async def drive(target: Target, cfg: RunConfig) -> dict[str, Any]:
    """Conductor side: returns RSS before/after and KiB per connection."""
    n, size = cfg.idle_connections, cfg.idle_room_size
    _, rooms, clients = await clients_in_rooms(target, n, size, "idle")
    pin_server(target, cfg)
    await asyncio.sleep(1.0)
    before = rss_kib(target.server.pid)
    loop = asyncio.get_running_loop()
    started = loop.time()
    fleet, ready = await start_fleet(target, cfg, "idle", clients, {}, cfg.idle_gen_workers)
    quiet = ready.pop()
    try:
        connect_seconds = loop.time() - started - quiet["quiesce_seconds"]
        await asyncio.sleep(cfg.idle_settle_seconds)
        after = rss_kib(target.server.pid)
        fleet.broadcast("report")
        results = await fleet.gather("result", limit_s=60)
        fleet.broadcast("close")
        await fleet.gather("closed", limit_s=60)
    finally:
        fleet.close()
    codes: Counter[int] = Counter()
    for r in results:
        codes.update(r["closed"])
    connected = sum(r["connected"] for r in ready)
    still_open = sum(r["open"] for r in results)
    return {
        "connections": connected,
        "still_open": still_open,
        "rooms": len(rooms),
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "kib_per_connection": (after - before) / max(connected, 1),
        "connect_and_join_seconds": round(connect_seconds, 2),
        "closed": dict(codes),
    }


async def work(spec: WorkerSpec, chan: Channel) -> None:
    """Worker side: open and join everything, hold it until told to close."""
    conns = await connect_all(spec, concurrency=50)
    chan.send("ready", {"connected": len(conns)})
    await chan.recv("report")
    chan.send("result", {"open": sum(c.alive for c in conns), "closed": closed_codes(conns)})
    await chan.recv("close")
    close_all(conns)
    await asyncio.sleep(0.5)
    chan.send("closed")
