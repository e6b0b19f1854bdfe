"""Which client library should the generator use? Measure it, same job for each.

Job: the fan-out scenario against the reference server (100 members, one sender
keeping 64 messages unacknowledged, 20,000 messages), the server pinned to core 0
and one generator process pinned to core 1. Each library counts group frames with
the same substring test; the figure is deliveries/s and the generator's CPU
microseconds per delivery (the lower, the more headroom the generator leaves).

`--sio` runs the same job against the python-socketio peer, comparing the
generator's raw Engine.IO dialect (picows) with python-socketio's official
AsyncClient, and shows that the peer works with the official client.

Run: python -m bench.clientlib [--sio]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

MEMBERS, MESSAGES, WINDOW, CONTENT = 100, 20_000, 64, "x" * 64


def _mark() -> tuple[float, float]:
    return time.monotonic(), time.process_time()


def _since(mark: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since `mark`: the send phase only, not the connects."""
    return time.monotonic() - mark[0], time.process_time() - mark[1]


GROUP_FRAME = json.dumps({"type": "group", "room_id": "libtest", "content": CONTENT})
JOIN_FRAME = json.dumps({"type": "join", "room_id": "libtest"})


async def _run_window(conns: list[Any], send: Callable[[Any, str], Awaitable[Any]],
                      texts: Callable[[Any], AsyncIterator[str]]) -> tuple[int, float, float]:
    """The job once every member has joined, for a library that gives text frames.

    `send(ws, text)` sends one text frame and `texts(ws)` iterates a connection's
    incoming ones. The first connection is the sender: each ack releases the next
    message until MESSAGES are sent; every member counts group frames.
    """
    received, sent = [0], [0]
    done = asyncio.get_running_loop().create_future()

    async def read(ws: Any, is_sender: bool) -> None:
        async for text in texts(ws):
            if '"group"' in text:
                received[0] += 1
                if received[0] == MEMBERS * MESSAGES and not done.done():
                    done.set_result(None)
            elif is_sender and '"ack"' in text and sent[0] < MESSAGES:
                sent[0] += 1
                await send(ws, GROUP_FRAME)

    readers = [asyncio.create_task(read(ws, i == 0)) for i, ws in enumerate(conns)]
    mark = _mark()
    for _ in range(WINDOW):
        sent[0] += 1
        await send(conns[0], GROUP_FRAME)
    await asyncio.wait_for(done, 120)
    took = _since(mark)
    for task in readers:
        task.cancel()
    return received[0], *took


async def _drive_websockets(base: str) -> tuple[int, float, float]:
    from websockets.asyncio.client import connect

    conns = []
    for i in range(MEMBERS):
        ws = await connect(f"{base}/ws?token=u{i}", compression=None, max_queue=None)
        await ws.send(JOIN_FRAME)
        await ws.recv()
        conns.append(ws)
    result = await _run_window(conns, lambda ws, text: ws.send(text), lambda ws: ws)
    for ws in conns:
        await ws.close()
    return result


async def _aiohttp_texts(ws: Any) -> AsyncIterator[str]:
    async for msg in ws:
        yield msg.data


async def _drive_aiohttp(base: str) -> tuple[int, float, float]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        conns = []
        for i in range(MEMBERS):
            ws = await http.ws_connect(f"{base}/ws?token=u{i}", autoping=True)
            await ws.send_str(JOIN_FRAME)
            await ws.receive()
            conns.append(ws)
        result = await _run_window(conns, lambda ws, text: ws.send_str(text), _aiohttp_texts)
        for ws in conns:
            await ws.close()
    return result


async def _drive_picows(base: str, kind: str) -> tuple[int, float, float]:
    from bench.scenarios.common import wait_until
    from bench.wsclient import open_conn

    room = "libtest"
    url = (f"{base}/socket.io/?EIO=4&transport=websocket" if kind == "sio" else None)
    conns = [await open_conn(kind, url or f"{base}/ws?token=u{i}", i, f"u{i}")
             for i in range(MEMBERS)]
    for conn in conns:
        await conn.join(room)
    sender, state = conns[0], {"sent": 0}

    def on_ack(_payload: bytes) -> None:
        if state["sent"] < MESSAGES:
            state["sent"] += 1
            sender.send_text(sender.group_frame(room, CONTENT))

    sender.on_ack = on_ack
    mark = _mark()
    for _ in range(WINDOW):
        state["sent"] += 1
        sender.send_text(sender.group_frame(room, CONTENT))
    await wait_until(lambda: sum(c.groups for c in conns) >= MEMBERS * MESSAGES, 120.0)
    took = _since(mark)
    for conn in conns:
        conn.close()
    return sum(c.groups for c in conns), *took


async def _drive_sio_official(base: str) -> tuple[int, float, float]:
    import socketio

    room, received = "libtest", [0]
    done = asyncio.get_running_loop().create_future()
    clients = []
    for i in range(MEMBERS):
        client = socketio.AsyncClient(reconnection=False)

        async def on_group(_msg: Any) -> None:
            received[0] += 1
            if received[0] == MEMBERS * MESSAGES and not done.done():
                done.set_result(None)

        client.on("group", on_group)
        await client.connect(base, transports=["websocket"], auth={"username": f"u{i}"})
        await client.call("join", {"room_id": room})
        clients.append(client)
    sender = clients[0]

    async def pump(count: int) -> None:
        for _ in range(count):
            await sender.call("group", {"room_id": room, "content": CONTENT}, timeout=60)

    mark = _mark()
    await asyncio.gather(*(pump(MESSAGES // WINDOW) for _ in range(WINDOW)))
    try:
        await asyncio.wait_for(done, 60)
    except TimeoutError:
        pass
    took = _since(mark)
    for client in clients:
        await client.disconnect()
    return received[0], *took


def _child(lib: str, base: str, queue: Any) -> None:
    import uvloop

    os.sched_setaffinity(0, {1})
    drivers = {
        "picows": lambda: _drive_picows(base.replace("http", "ws"), "chat"),
        "websockets": lambda: _drive_websockets(base.replace("http", "ws")),
        "aiohttp": lambda: _drive_aiohttp(base),
        "picows-raw-socketio": lambda: _drive_picows(base.replace("http", "ws"), "sio"),
        "python-socketio-client": lambda: _drive_sio_official(base),
    }
    queue.put(uvloop.run(drivers[lib]()))


def measure(lib: str, base: str) -> dict[str, Any]:
    """Run one library's job in a fresh pinned process; time the send phase only."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(lib, base, queue))
    proc.start()
    received, seconds, cpu = queue.get(timeout=300)
    proc.join(30)
    return {"library": lib, "deliveries": received,
            "deliveries_per_s": round(received / seconds),
            "generator_cpu_us_per_delivery": round(1e6 * cpu / max(received, 1), 2)}


async def _main(sio: bool) -> list[dict[str, Any]]:
    from bench.procs import pin_process
    from bench.targets import make_target

    target = make_target("peer" if sio else "reference", Path(tempfile.mkdtemp()))
    assert target is not None
    target.server.start()
    await target.server.wait_ready()
    pin_process(target.server.pid, {0})
    libs = (["picows-raw-socketio", "python-socketio-client"] if sio
            else ["picows", "websockets", "aiohttp"])
    try:
        return [await asyncio.to_thread(measure, lib, target.base_url) for lib in libs]
    finally:
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sio", action="store_true", help="compare socket.io clients")
    args = parser.parse_args()
    for row in asyncio.run(_main(args.sio)):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
