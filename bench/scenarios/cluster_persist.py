"""Persistence on a deployment: acknowledged (hence stored) messages per second on MariaDB.

Scenario 4's load (`persist.py`, whose worker side runs unchanged): senders in rooms,
each keeping `persist_window` messages unacknowledged. Sender i connects straight
to process i mod P, so a cluster stores through every process into the one
database. It gives the database's side of the capacity projection: how many
messages per second the deployment can store, and the database server's CPU per
stored message. Afterwards the history (read through the first process: the
database is shared) must hold every room's highest acknowledged id.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench import accounts as api
from bench.config import RunConfig
from bench.deployment import Deployment
from bench.scenarios.cluster_common import metered, start_fleet
from bench.worker import ClientSpec


async def drive(deployment: Deployment, cfg: RunConfig) -> dict[str, Any]:
    """Conductor side: acks/s, CPU per ack, and the history cross-check."""
    n, size = cfg.persist_senders, cfg.persist_room_size
    accounts = await deployment.accounts(n)
    rooms = await deployment.rooms(max(1, n // size), "persist")
    processes = len(deployment.nodes)
    clients = [
        ClientSpec(i, a.username, deployment.ws_url(a, node=i % processes), (rooms[i // size % len(rooms)],))
        for i, a in enumerate(accounts)
    ]
    params = {
        "window": cfg.persist_window,
        "seconds": cfg.persist_seconds,
        "max_messages": cfg.persist_max_messages // max(1, cfg.gen_workers),
        "content_chars": cfg.content_chars,
    }
    deployment.pin(cfg.server_cpus)
    fleet, quiet = await start_fleet(deployment, cfg, "persist", clients, params)
    try:
        async with metered(deployment, fleet, cfg, "persist") as usage:
            results = await fleet.gather("result", limit_s=cfg.persist_seconds + 120)
    finally:
        fleet.close()
    acked = sum(r["acked"] for r in results)
    seconds = max(max(r["seconds"] for r in results), 1e-9)
    max_acked: dict[str, int] = {}
    for r in results:
        for room, msg_id in r["max_id"].items():
            max_acked[room] = max(max_acked.get(room, 0), msg_id)
    token = accounts[0].token
    newest = await asyncio.gather(
        *(api.newest_message_id(deployment.base_url, token, room) for room in max_acked)
    )
    missing = sum(
        1 for (_, top), got in zip(max_acked.items(), newest, strict=True) if got is None or got < top
    )
    return {
        "senders": n,
        "rooms": len(rooms),
        "window": cfg.persist_window,
        "messages_sent": sum(r["sent"] for r in results),
        "acked": acked,
        "errors": sum(r["errors"] for r in results),
        "acks_per_s": acked / seconds,
        "rooms_with_acked_message_missing_from_history": missing,
        "closed": {k: v for r in results for k, v in r["closed"].items()},
        "quiesce_seconds": round(quiet, 2),
        **usage.figures({"ack": acked, "delivery": acked * size}),
    }
