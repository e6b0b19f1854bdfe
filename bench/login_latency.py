"""Login latency under a burst, with a WebSocket session kept busy beside it.

Starts ``chat-server`` as a real process (SQLite, rate limiting off), registers
50 users, then runs 50 logins at once, several rounds, while one session sends
``ping`` every 10 ms and records its round-trip. Prints p50/p90/p99 of both:
the point is that argon2id hashing, which runs in worker threads behind a
small limiter, does not stall chat traffic.

    .venv/bin/python -m bench.login_latency [--users 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import trio
from trio_websocket import open_websocket_url


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(users: int, rounds: int) -> None:
    port = _free_port()
    data = tempfile.mkdtemp(prefix="chat-bench-")
    env = {
        **os.environ,
        "CHAT_PORT": str(port),
        "CHAT_DATA_DIR": data,
        "CHAT_LOG_LEVEL": "warning",
        "CHAT_RATE_LIMIT": "false",
    }
    proc = subprocess.Popen([sys.executable, "-c", "from web.server import main; main()"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            with trio.fail_after(30):
                while True:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.1)  # also after a 503: the server is still starting
            names = [f"bench{i}" for i in range(users)]
            limiter = trio.CapacityLimiter(8)

            async def register(name: str) -> None:
                async with limiter:
                    await http.post("/api/v1/register", json={"username": name, "password": "benchmark pw"})

            async with trio.open_nursery() as n:
                for name in names:
                    n.start_soon(register, name)
            token = (
                await http.post("/api/v1/login", json={"username": names[0], "password": "benchmark pw"})
            ).json()["token"]

            logins: list[float] = []
            pings: list[float] = []
            done = trio.Event()

            async def pinger() -> None:
                async with open_websocket_url(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
                    while not done.is_set():
                        start = time.perf_counter()
                        await ws.send_message('{"type":"ping"}')
                        while json.loads(await ws.get_message()).get("type") != "pong":
                            pass
                        pings.append(time.perf_counter() - start)
                        await trio.sleep(0.01)

            async def login(name: str) -> None:
                start = time.perf_counter()
                r = await http.post("/api/v1/login", json={"username": name, "password": "benchmark pw"})
                assert r.status_code == 200, r.text
                logins.append(time.perf_counter() - start)

            async with trio.open_nursery() as n:
                n.start_soon(pinger)
                await trio.sleep(0.2)
                wall = time.perf_counter()
                for _ in range(rounds):
                    async with trio.open_nursery() as burst:
                        for name in names:
                            burst.start_soon(login, name)
                wall = time.perf_counter() - wall
                done.set()
        print(f"{users} concurrent logins x {rounds} rounds: {len(logins) / wall:.1f} logins/s")
        print(
            f"login latency ms: p50 {_pct(logins, 50):.0f}  p90 {_pct(logins, 90):.0f}  p99 {_pct(logins, 99):.0f}"
        )
        print(
            f"ping round-trip during the bursts ms ({len(pings)} pings): p50 {_pct(pings, 50):.1f}  p99 {_pct(pings, 99):.1f}  max {max(pings) * 1000:.1f}"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trio.run(run, args.users, args.rounds)


if __name__ == "__main__":
    main()
