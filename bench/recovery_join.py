"""What a join costs: plain, and with "since" returning 500 missed messages, while the room is busy.

    .venv/bin/python -m bench.recovery_join [--checkout PATH] [--joins 200]

Starts ``chat-server`` (from ``--checkout``, default this one) on SQLite with the
rate limits lifted, stores 2,000 messages in the lobby, keeps two members posting
as fast as the server acks them, and meanwhile times, from a third connection,
the round trip of ``join`` to ``joined``: plainly, and with a ``since`` 500
messages back (the reply then carries those 500). Prints p50, p90, p99 and max
of each. A checkout older than the recovery feature times plain joins only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio
from wsproto.events import TextMessage

from bench.flood_fairness import ROOT, Client, free_port


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"{name:>22}: {len(ms):4d} joins  p50 {q[49]:7.2f} ms  p90 {q[89]:7.2f} ms  p99 {q[98]:7.2f} ms  max {max(ms):7.2f} ms"


async def command(client: Client, obj: dict[str, object]) -> dict[str, object]:
    ref = secrets.token_hex(4)
    await client.send_text(json.dumps({**obj, "ref": ref}))
    while True:
        event = await client.next()
        if isinstance(event, TextMessage):
            frame = json.loads(event.data)
            if frame.get("ref") == ref:
                return frame  # type: ignore[no-any-return]


async def run(checkout: Path, joins: int, with_since: bool) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(
        CHAT_PORT=str(port),
        CHAT_DATA_DIR=tempfile.mkdtemp(prefix="recovery-join-"),
        CHAT_LOG_LEVEL="warning",
        CHAT_RATE_LIMIT="false",
    )
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before any measurement)
        [sys.executable, "-c", "from web.server import main; main()"], cwd=checkout, env=env
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            with trio.fail_after(30):
                while True:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.1)
            tokens = []
            for _ in range(3):
                creds = {"username": f"u{secrets.token_hex(4)}", "password": "long enough"}
                await http.post("/api/v1/register", json=creds)
                tokens.append((await http.post("/api/v1/login", json=creds)).json()["token"])
        posters = [await Client.open(port, token) for token in tokens[:2]]
        for poster in posters:
            await command(poster, {"type": "join", "room_id": "lobby"})
        last = 0
        for n in range(2000):
            last = int(
                (await command(posters[0], {"type": "group", "room_id": "lobby", "content": f"m{n}"}))["id"]
            )

        async def keep_posting(poster: Client) -> None:
            n = 0
            while True:
                n += 1
                await command(poster, {"type": "group", "room_id": "lobby", "content": f"busy {n}"})

        plain: list[float] = []
        recovering: list[float] = []
        async with trio.open_nursery() as nursery:
            for poster in posters:
                nursery.start_soon(keep_posting, poster)
            for i in range(joins):
                joiner = await Client.open(port, tokens[2])
                since = i % 2 == 1 and with_since
                started = time.perf_counter()
                reply = await command(
                    joiner, {"type": "join", "room_id": "lobby", **({"since": last - 500} if since else {})}
                )
                (recovering if since else plain).append((time.perf_counter() - started) * 1000)
                assert reply["type"] == "joined", reply
                if since:
                    assert len(reply["messages"]) == 500, len(reply["messages"])  # type: ignore[arg-type]
                await joiner.stream.aclose()
            nursery.cancel_scope.cancel()
        print(f"server: {checkout}")
        print(summary("join", plain))
        if recovering:
            print(summary("join, since 500 back", recovering))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkout", type=Path, default=ROOT, help="the server's source tree (default: this one)"
    )
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--plain-only", action="store_true", help="only plain joins (a server without since)")
    args = parser.parse_args()
    trio.run(run, args.checkout.resolve(), args.joins, not args.plain_only)


if __name__ == "__main__":
    main()
