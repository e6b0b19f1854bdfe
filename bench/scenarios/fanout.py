"""Scenario 1, fan-out: one room of N members, one sender at full speed.

The sender keeps `window` group messages unacknowledged: each ack releases the next
send, so the server is never idle yet never buried under an unbounded backlog. Every
member counts the group messages it receives: the sender per frame with a substring
test, the listening members in the raw byte stream (`wsclient.RawCounter`).
The rate reported is deliveries per second: all group frames received by all
members, over the time from the first send to the last delivery. A member that does
not receive every acked message within the drain time counts the difference as lost.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.config import RunConfig
from bench.scenarios.common import (
    content_of,
    measured_run,
    pin_server,
    process_cpu,
    start_fleet,
    wait_until,
)
from bench.targets import Target
from bench.worker import Channel, ClientSpec, Conn, WorkerSpec, close_all, closed_codes, connect_all


async def drive(target: Target, cfg: RunConfig, members: int) -> dict[str, Any]:
    """Conductor side; returns the figures of one fan-out size against one target."""
    accounts = await target.accounts(members)
    room = (await target.rooms(1, f"fanout{members}"))[0]
    clients = [ClientSpec(i, a.username, target.ws_url(a), (room,))
               for i, a in enumerate(accounts)]
    params = {
        "room": room,
        "sender": 0,
        "messages": cfg.fanout_messages.get(members, 3000),
        "window": cfg.fanout_window,
        "seconds": cfg.fanout_seconds,
        "content_chars": cfg.content_chars,
    }
    pin_server(target, cfg)
    fleet, ready = await start_fleet(target, cfg, "fanout", clients, params, cfg.gen_workers)
    try:
        async with measured_run(target, cfg, fleet, f"fanout{members}", cfg.fanout_seconds) as meter:
            sent = await fleet.channels[0].recv("sent", limit_s=cfg.fanout_seconds + 120)
            fleet.broadcast("drain", {"expected": sent["acked"], "timeout": cfg.drain_seconds})
            results = await fleet.gather("result", limit_s=cfg.drain_seconds + 60)
    finally:
        fleet.close()
    received = sum(r["received"] for r in results)
    last = max((r["last_at"] for r in results if r["last_at"]), default=sent["t0"])
    elapsed = max(last - sent["t0"], 1e-9)
    expected = sent["acked"] * members
    codes: dict[int, int] = {}
    for r in results:
        for code, n in r["closed"].items():
            codes[code] = codes.get(code, 0) + n
    gen_cpu = sum(r["cpu"] for r in results)
    return {
        "members": members,
        "messages_acked": sent["acked"],
        "messages_sent": sent["sent"],
        "send_errors": sent["errors"],
        "deliveries": received,
        "expected": expected,
        "lost": max(0, expected - received),
        "seconds": round(elapsed, 3),
        "deliveries_per_s": received / elapsed,
        "messages_per_s": sent["acked"] / max(sent["t_last_ack"] - sent["t0"], 1e-9),
        "server_cpu_util": round(meter.utilisation, 3),
        "server_cpu_us_per_delivery": 1e6 * meter.cpu / max(received, 1),
        "generator_cpu_util": round(gen_cpu / max(meter.wall, 1e-9), 3),
        "closed": codes,
        "quiesce_seconds": ready[-1]["quiesce_seconds"],
        "system_frames_seen": sum(r["system"] for r in results),
    }


async def _send_windowed(conn: Conn, params: dict[str, Any]) -> dict[str, Any]:
    """Keep `window` messages in flight until `messages` are acked or time is up."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    total, window = int(params["messages"]), int(params["window"])
    deadline = time.monotonic() + float(params["seconds"])
    content = content_of(int(params["content_chars"]), "fanout")
    room = params["room"]
    state = {"sent": 0, "acked": 0, "t_last_ack": 0.0}

    def send_one() -> None:
        state["sent"] += 1
        conn.send_text(conn.group_frame(room, content))

    def on_ack(_payload: bytes) -> None:
        state["acked"] += 1
        state["t_last_ack"] = time.monotonic()
        if state["sent"] < total and state["t_last_ack"] < deadline:
            send_one()
        elif state["acked"] >= state["sent"] and not done.done():
            done.set_result(None)

    conn.on_ack = on_ack
    t0 = time.monotonic()
    for _ in range(min(window, total)):
        send_one()
    try:
        await asyncio.wait_for(done, float(params["seconds"]) + 60)
    except TimeoutError:
        pass
    conn.on_ack = None
    errors = conn.errors
    return {"sent": state["sent"], "acked": state["acked"] - errors, "errors": errors,
            "t0": t0, "t_last_ack": state["t_last_ack"] or time.monotonic()}


async def work(spec: WorkerSpec, chan: Channel) -> None:
    """Worker side: connect, wait for `go`, send (worker of the sender), count, report."""
    conns = await connect_all(spec)
    chan.send("ready", {"connected": len(conns)})
    await chan.recv("go")
    cpu0 = process_cpu()
    sender_index = spec.params["sender"]
    sender = next((c for c in conns if c.index == sender_index), None)
    for conn in conns:
        if conn is not sender:
            conn.count_raw()
    if sender is not None:
        chan.send("sent", await _send_windowed(sender, spec.params))
    drain = await chan.recv("drain")
    expected = int(drain["expected"])
    await wait_until(lambda: all(c.groups >= expected or not c.alive for c in conns),
                     float(drain["timeout"]))
    chan.send("result", {
        "received": sum(c.groups for c in conns),
        "last_at": max((c.last_group_at for c in conns), default=0.0),
        "closed": closed_codes(conns),
        "cpu": process_cpu() - cpu0,
        "system": sum(c.system for c in conns),
    })
    close_all(conns)
    await asyncio.sleep(0.2)
