"""Chatty rooms on a deployment: scenario 2 through the balancer, with the room's order checked.

The load is scenario 2's (`chatty.py`: users in rooms of `chatty_room_size`, each
sending `chatty_rate` messages/s with random phases, content carrying sender,
sequence number and send time). Clients connect through the deployment's front
door: HAProxy round robin for a cluster, so a room's members land on every process,
or the one process itself. Besides latency and losses, every receiver records the
room messages it gets, in order, as (id, sender, seq), and the conductor checks
the cluster's promise of one order:

- **ids increase**: a receiver seeing an id not above the one before counts one
  `id_order_violations`;
- **every receiver sees the same sequence**: per room, the receivers that got every
  message must hold identical (id, sender, seq) sequences; each one that differs
  from the room's most common sequence counts one `receivers_with_another_order`
  (the same message under two ids shows here too);
- **no sender's messages overtake each other** (`sender_order_violations`, as in
  scenario 2; a duplicate delivery shows here).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from array import array
from collections import Counter, defaultdict
from typing import Any

from bench.config import RunConfig
from bench.deployment import Deployment
from bench.scenarios.chatty import _Receiver, percentile, sent_then_drained, talk_and_drain
from bench.scenarios.cluster_common import metered, start_fleet
from bench.scenarios.common import process_cpu
from bench.worker import Channel, ClientSpec, Conn, WorkerSpec, close_all, closed_codes


async def drive(deployment: Deployment, cfg: RunConfig) -> dict[str, Any]:
    """Conductor side: latency percentiles (ms), losses and the order checks."""
    users, size = cfg.chatty_users, cfg.chatty_room_size
    accounts = await deployment.accounts(users)
    rooms = await deployment.rooms(max(1, users // size), "chatty")
    clients = [
        ClientSpec(i, a.username, deployment.ws_url(a, node=None), (rooms[i // size % len(rooms)],))
        for i, a in enumerate(accounts)
    ]
    room_of = [c.rooms[0] for c in clients]
    params = {"rate": cfg.chatty_rate, "seconds": cfg.chatty_seconds, "content_chars": cfg.content_chars}
    deployment.pin(cfg.server_cpus)
    fleet, quiet = await start_fleet(deployment, cfg, "cluster_chatty", clients, params)
    split = deployment.balancer_sessions()
    try:
        async with metered(deployment, fleet, cfg, "chatty") as usage:
            sent, acked, results = await sent_then_drained(fleet, cfg, room_of)
    finally:
        fleet.close()
    received: Counter[int] = Counter()
    samples: list[int] = []
    codes: Counter[int] = Counter()
    sequences: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in results:
        received.update({int(k): v for k, v in r["received"].items()})
        lat = array("q")
        lat.frombytes(r["latency_ns"])
        samples.extend(lat)
        codes.update(r["closed"])
        for room, count, digest in r["sequences"]:
            sequences[room].append((count, digest))
    samples.sort()
    members = Counter(room_of)
    lost = sum(max(0, n * members[room_of[i]] - received[i]) for i, n in acked.items())
    undelivered = sum(max(0, n * members[room_of[i]] - received[i]) for i, n in sent.items())
    other_order, incomplete = _compare_sequences(sequences)
    id_violations = sum(r["id_disorder"] for r in results)
    sender_violations = sum(r["disorder"] for r in results)
    total_sent = sum(sent.values())
    return {
        "users": users,
        "rooms": len(rooms),
        "sessions_per_process": split,
        "messages_sent": total_sent,
        "messages_acked": sum(r["acked"] for r in results),
        "send_errors": sum(r["errors"] for r in results),
        "deliveries": len(samples),
        "lost": lost,
        "undelivered_incl_unacked": undelivered,
        "order_violations": id_violations + other_order + sender_violations,
        "id_order_violations": id_violations,
        "receivers_with_another_order": other_order,
        "receivers_missing_messages": incomplete,
        "sender_order_violations": sender_violations,
        "msgs_per_s": total_sent / cfg.chatty_seconds,
        "p50_ms": percentile(samples, 0.50) / 1e6,
        "p90_ms": percentile(samples, 0.90) / 1e6,
        "p99_ms": percentile(samples, 0.99) / 1e6,
        "max_ms": (samples[-1] / 1e6) if samples else float("nan"),
        "generator_cpu_util": round(sum(r["cpu"] for r in results) / max(usage.wall, 1e-9), 3),
        "closed": dict(codes),
        "quiesce_seconds": round(quiet, 2),
        **usage.figures({"message": total_sent, "delivery": len(samples)}),
    }


def _compare_sequences(sequences: dict[str, list[tuple[int, str]]]) -> tuple[int, int]:
    """(receivers whose full sequence differs from their room's usual one, receivers short of messages)."""
    other, short = 0, 0
    for seen in sequences.values():
        full = max(count for count, _ in seen)
        complete = [digest for count, digest in seen if count == full]
        usual, _ = Counter(complete).most_common(1)[0]
        other += sum(1 for digest in complete if digest != usual)
        short += len(seen) - len(complete)
    return other, short


class _RoomTally(_Receiver):
    """Scenario 2's tally, plus each receiver's room sequence of (id, sender, seq)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[int, array[int]] = {}
        self.senders: dict[int, array[int]] = {}
        self.seqs: dict[int, array[int]] = {}
        self.id_disorder = 0

    def hook(self, conn: Conn) -> Any:
        parse = conn.parse_group
        me = conn.index
        ids, senders, seqs = array("q"), array("q"), array("q")
        self.ids[me], self.senders[me], self.seqs[me] = ids, senders, seqs
        last_seq = self.last_seq

        def on_group(payload: bytes) -> None:
            now = time.monotonic_ns()
            msg = parse(payload)
            sender_s, seq_s, sent_s = msg["content"].split(" ", 3)[:3]
            sender, seq, msg_id = int(sender_s), int(seq_s), int(msg["id"])
            self.latency.append(now - int(sent_s))
            self.by_sender[sender] += 1
            key = (me, sender)
            if seq <= last_seq.get(key, -1):
                self.disorder += 1
            last_seq[key] = seq
            if ids and msg_id <= ids[-1]:
                self.id_disorder += 1
            ids.append(msg_id)
            senders.append(sender)
            seqs.append(seq)

        return on_group

    def sequence(self, index: int) -> tuple[int, str]:
        """How many room messages receiver `index` got, and a digest of their (id, sender, seq) order."""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.ids[index], self.senders[index], self.seqs[index]):
            h.update(part.tobytes())
        return len(self.ids[index]), h.hexdigest()


async def work(spec: WorkerSpec, chan: Channel) -> None:
    """Worker side: scenario 2's talking and draining, reporting each receiver's sequence."""
    tally = _RoomTally()
    conns, room_of, cpu0 = await talk_and_drain(spec, chan, tally)
    chan.send(
        "result",
        {
            "acked": sum(c.acks for c in conns),
            "errors": sum(c.errors for c in conns),
            "received": dict(tally.by_sender),
            "latency_ns": tally.latency.tobytes(),
            "disorder": tally.disorder,
            "id_disorder": tally.id_disorder,
            "sequences": [(room_of[c.index], *tally.sequence(c.index)) for c in conns],
            "closed": closed_codes(conns),
            "cpu": process_cpu() - cpu0,
        },
    )
    close_all(conns)
    await asyncio.sleep(0.2)
