"""Fan-out on a deployment: one room of N members split evenly over the processes.

The same load as scenario 1 (`fanout.py`, whose worker side runs unchanged): one
sender keeps `fanout_window` messages unacknowledged, every member counts the group
frames it receives. What changes is where the members are: member i connects
straight to process i mod P (P = the deployment's processes), so a cluster of 2
has half the room on each and the sender (member 0) on the first. The figure the
issue asks for is the servers' CPU per delivery, summed over every process, beside
the same figure for one process on the same kind of database; Redis's own CPU per
message and per delivery comes with it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.config import RunConfig
from bench.deployment import Deployment
from bench.scenarios.cluster_common import metered, start_fleet
from bench.worker import ClientSpec


async def drive(deployment: Deployment, cfg: RunConfig, members: int) -> dict[str, Any]:
    """Conductor side; the figures of one fan-out size on one deployment."""
    accounts = await deployment.accounts(members)
    room = (await deployment.rooms(1, f"fanout{members}"))[0]
    processes = len(deployment.nodes)
    clients = [
        ClientSpec(i, a.username, deployment.ws_url(a, node=i % processes), (room,))
        for i, a in enumerate(accounts)
    ]
    params = {
        "room": room,
        "sender": 0,
        "messages": cfg.fanout_messages.get(members, 3000),
        "window": cfg.fanout_window,
        "seconds": cfg.fanout_seconds,
        "content_chars": cfg.content_chars,
    }
    deployment.pin(cfg.server_cpus)
    fleet, quiet = await start_fleet(deployment, cfg, "fanout", clients, params)
    try:
        async with metered(deployment, fleet, cfg, f"fanout{members}") as usage:
            sent = await fleet.channels[0].recv("sent", limit_s=cfg.fanout_seconds + 120)
            fleet.broadcast("drain", {"expected": sent["acked"], "timeout": cfg.drain_seconds})
            results = await fleet.gather("result", limit_s=cfg.drain_seconds + 60)
    finally:
        fleet.close()
    received = sum(r["received"] for r in results)
    last = max((r["last_at"] for r in results if r["last_at"]), default=sent["t0"])
    elapsed = max(last - sent["t0"], 1e-9)
    acked = sent["acked"]
    codes: Counter[int] = Counter()
    for r in results:
        codes.update(r["closed"])
    return {
        "members": members,
        "members_per_process": sorted(Counter(i % processes for i in range(members)).values()),
        "messages_acked": acked,
        "messages_sent": sent["sent"],
        "send_errors": sent["errors"],
        "deliveries": received,
        "expected": acked * members,
        "lost": max(0, acked * members - received),
        "seconds": round(elapsed, 3),
        "deliveries_per_s": received / elapsed,
        "messages_per_s": acked / max(sent["t_last_ack"] - sent["t0"], 1e-9),
        "generator_cpu_util": round(sum(r["cpu"] for r in results) / max(usage.wall, 1e-9), 3),
        "closed": dict(codes),
        "quiesce_seconds": round(quiet, 2),
        **usage.figures({"message": acked, "delivery": received}),
    }
