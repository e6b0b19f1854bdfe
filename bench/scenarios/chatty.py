"""Scenario 2, chatty rooms: many small rooms, everyone talking at a steady pace.

Each user sends `rate` messages per second to its room (phases spread at random so
the load is smooth) for a bounded time. The content carries the sender's index, a
per-sender sequence number and the send time (`time.monotonic_ns()`, one clock for
every process of the machine), so each receiver measures send-to-receive latency
and which messages it got. Lost = for every sender, (messages acked x room size) -
deliveries counted once the drain time is over; it must be 0. A server that cannot
keep up also shows `undelivered_incl_unacked` (the same count over every message
sent, acked or not) and a growing latency. Order violations count a receiver seeing one
sender's sequence go backwards.
"""

from __future__ import annotations

import asyncio
import random
import time
from array import array
from collections import Counter
from typing import Any

from bench.config import RunConfig
from bench.scenarios.common import (
    clients_in_rooms,
    content_of,
    measured_run,
    pin_server,
    process_cpu,
    start_fleet,
    wait_until,
)
from bench.targets import Target
from bench.worker import Channel, Conn, Fleet, WorkerSpec, close_all, closed_codes, connect_all


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[k])


async def sent_then_drained(
    fleet: Fleet, cfg: RunConfig, room_of: list[str]
) -> tuple[Counter[int], Counter[int], list[Any]]:
    """Wait for every sender's counts, then have every receiver drain what its room was sent.

    What was sent and acked per client index, and each worker's result.
    """
    sent_reports = await fleet.gather("sent", limit_s=cfg.chatty_seconds + 120)
    sent: Counter[int] = Counter()
    acked: Counter[int] = Counter()
    for rep in sent_reports:
        sent.update({int(k): v for k, v in rep["sent"].items()})
        acked.update({int(k): v for k, v in rep["acked"].items()})
    room_sent: Counter[str] = Counter()
    for idx, n in sent.items():
        room_sent[room_of[idx]] += n
    fleet.broadcast("drain", {"room_sent": dict(room_sent), "timeout": cfg.drain_seconds})
    results = await fleet.gather("result", limit_s=cfg.drain_seconds + 60)
    return sent, acked, results


async def drive(target: Target, cfg: RunConfig) -> dict[str, Any]:
    """Conductor side: returns latency percentiles (ms), throughput and losses."""
    users, size = cfg.chatty_users, cfg.chatty_room_size
    _, rooms, clients = await clients_in_rooms(target, users, size, "chatty")
    room_of = [c.rooms[0] for c in clients]
    params = {"rate": cfg.chatty_rate, "seconds": cfg.chatty_seconds,
              "content_chars": cfg.content_chars}
    pin_server(target, cfg)
    fleet, _ = await start_fleet(target, cfg, "chatty", clients, params, cfg.gen_workers)
    try:
        async with measured_run(target, cfg, fleet, "chatty", cfg.chatty_seconds) as meter:
            sent, acked, results = await sent_then_drained(fleet, cfg, room_of)
    finally:
        fleet.close()
    received: Counter[int] = Counter()
    samples: list[int] = []
    disorder = 0
    codes: Counter[int] = Counter()
    for r in results:
        received.update({int(k): v for k, v in r["received"].items()})
        lat = array("q")
        lat.frombytes(r["latency_ns"])
        samples.extend(lat)
        disorder += r["disorder"]
        codes.update(r["closed"])
    samples.sort()
    members = Counter(room_of)
    # Acks of one session come back in send order, so a sender's first `acked`
    # messages are the acked ones: those must reach every member of the room.
    lost = sum(max(0, n * members[room_of[i]] - received[i]) for i, n in acked.items())
    undelivered = sum(max(0, n * members[room_of[i]] - received[i]) for i, n in sent.items())
    total_sent = sum(sent.values())
    return {
        "users": users,
        "rooms": len(rooms),
        "messages_sent": total_sent,
        "messages_acked": sum(r["acked"] for r in results),
        "acked_within_10s_of_last_send": sum(acked.values()),
        "deliveries": len(samples),
        "lost": lost,
        "undelivered_incl_unacked": undelivered,
        "order_violations": disorder,
        "msgs_per_s": total_sent / cfg.chatty_seconds,
        "p50_ms": percentile(samples, 0.50) / 1e6,
        "p90_ms": percentile(samples, 0.90) / 1e6,
        "p99_ms": percentile(samples, 0.99) / 1e6,
        "max_ms": (samples[-1] / 1e6) if samples else float("nan"),
        "server_cpu_util": round(meter.utilisation, 3),
        "generator_cpu_util": round(sum(r["cpu"] for r in results) / max(meter.wall, 1e-9), 3),
        "closed": dict(codes),
    }


class _Receiver:
    """Per-worker tally of group messages: latencies, counts per sender, order."""

    def __init__(self) -> None:
        self.latency = array("q")
        self.by_sender: Counter[int] = Counter()
        self.last_seq: dict[tuple[int, int], int] = {}
        self.disorder = 0

    def hook(self, conn: Conn) -> Any:
        parse = conn.parse_group
        me = conn.index

        def on_group(payload: bytes) -> None:
            now = time.monotonic_ns()
            sender_s, seq_s, sent_s = parse(payload)["content"].split(" ", 3)[:3]
            sender, seq = int(sender_s), int(seq_s)
            self.latency.append(now - int(sent_s))
            self.by_sender[sender] += 1
            key = (me, sender)
            if seq <= self.last_seq.get(key, -1):
                self.disorder += 1
            self.last_seq[key] = seq

        return on_group


async def _talk(conn: Conn, room: str, rate: float, until: float, size: int) -> int:
    """Send to `room` every 1/rate s (random phase) until `until`; returns the count."""
    period = 1.0 / rate
    next_at = time.monotonic() + random.uniform(0, period)
    seq = 0
    while next_at < until and conn.alive:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        stamp = f"{conn.index} {seq} {time.monotonic_ns()}"
        conn.send_text(conn.group_frame(room, content_of(size, stamp)))
        seq += 1
        next_at += period
    return seq


async def talk_and_drain(spec: WorkerSpec, chan: Channel, tally: Any) -> tuple[list[Conn], dict[int, str], float]:
    """Worker side up to the report: connect, talk for the bounded time, report what was sent, drain.

    ``tally`` hooks every connection's group frames. The connections, each
    one's room, and the worker's CPU time when the talking began.
    """
    conns = await connect_all(spec)
    room_of = {c.index: spec.clients[k].rooms[0] for k, c in enumerate(conns)}
    for conn in conns:
        conn.on_group = tally.hook(conn)
    chan.send("ready", {"connected": len(conns)})
    await chan.recv("go")
    cpu0 = process_cpu()
    p = spec.params
    until = time.monotonic() + float(p["seconds"])
    counts = await asyncio.gather(
        *(_talk(c, room_of[c.index], float(p["rate"]), until, int(p["content_chars"])) for c in conns)
    )
    await wait_until(lambda: sum(c.acks + c.errors for c in conns) >= sum(counts), 10.0)
    chan.send(
        "sent",
        {
            "sent": {c.index: n for c, n in zip(conns, counts, strict=True)},
            "acked": {c.index: c.acks for c in conns},
        },
    )
    drain = await chan.recv("drain")
    room_sent = drain["room_sent"]
    await wait_until(
        lambda: all(c.groups >= room_sent.get(room_of[c.index], 0) or not c.alive for c in conns),
        float(drain["timeout"]),
    )
    return conns, room_of, cpu0


async def work(spec: WorkerSpec, chan: Channel) -> None:
    """Worker side: talk for the bounded time, then wait for stragglers and report."""
    tally = _Receiver()
    conns, _, cpu0 = await talk_and_drain(spec, chan, tally)
    chan.send("result", {
        "acked": sum(c.acks for c in conns),
        "received": dict(tally.by_sender),
        "latency_ns": tally.latency.tobytes(),
        "disorder": tally.disorder,
        "closed": closed_codes(conns),
        "cpu": process_cpu() - cpu0,
    })
    close_all(conns)
    await asyncio.sleep(0.2)
