"""Does one flooding client slow everybody else down? Ping round trips with and without a flood.

    .venv/bin/python -m bench.flood_fairness [--checkout PATH] [--seconds 10]

Starts ``chat-server`` (from ``--checkout``, default this one) on SQLite with its
default limits, connects ten ordinary clients that each send a ``ping`` command
every 20 ms and time the ``pong``, and one client that sends 64 KB frames of JSON
that is slow to parse (``{"type":"ping","x":[{},{},...]}``) as fast as its socket
takes them, reading and discarding what comes back. Prints the ordinary clients'
round trips (p50, p90, p99, max) without the flood and with it, and how many of the
flooder's frames the server answered how.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Ping, Request, TextMessage

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: list[object] = []
        self._partial: list[str] = []  # a text message wsproto hands over in pieces

    @classmethod
    async def open(cls, port: int, token: str) -> Client:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        await client.stream.send_all(client.ws.send(Request(host="127.0.0.1", target=f"/ws?token={token}")))
        assert isinstance(await client.next(), AcceptConnection)
        return client

    async def send_text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(text)))

    async def next(self) -> object:
        while not self.events:
            data = await self.stream.receive_some(1 << 16)
            if not data:
                raise EOFError
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, Ping):
                    await self.stream.send_all(self.ws.send(event.response()))
                elif isinstance(event, TextMessage) and not event.message_finished:
                    self._partial.append(event.data)
                elif isinstance(event, TextMessage) and self._partial:
                    self.events.append(TextMessage("".join([*self._partial, event.data])))
                    self._partial.clear()
                else:
                    self.events.append(event)
        return self.events.pop(0)


async def measure(port: int, tokens: list[str], seconds: float) -> list[float]:
    rtts: list[float] = []

    async def one(token: str) -> None:
        client = await Client.open(port, token)
        deadline = trio.current_time() + seconds
        n = 0
        while trio.current_time() < deadline:
            n += 1
            sent = time.perf_counter()
            await client.send_text(json.dumps({"type": "ping", "ref": n}))
            while True:
                event = await client.next()
                if isinstance(event, TextMessage) and json.loads(event.data).get("ref") == n:
                    break
            rtts.append((time.perf_counter() - sent) * 1000)
            await trio.sleep(0.02)
        await client.stream.aclose()

    async with trio.open_nursery() as nursery:
        for token in tokens:
            nursery.start_soon(one, token)
    return rtts


async def flood(port: int, token: str, outcome: Counter[str], stop: trio.Event) -> None:
    client = await Client.open(port, token)
    payload = '{"type":"ping","x":[' + ",".join(["{}"] * 21_000) + "]}"
    frame = client.ws.send(TextMessage(payload))

    async def discard() -> None:
        while True:
            event = await client.next()
            if isinstance(event, TextMessage):
                reply = json.loads(event.data)
                outcome[reply.get("code") or reply.get("type")] += 1
            elif not isinstance(event, BytesMessage):
                outcome[type(event).__name__] += 1

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(discard)
            while not stop.is_set():
                await client.stream.send_all(frame)
            nursery.cancel_scope.cancel()
    except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError):
        outcome["connection lost"] += 1


def summary(name: str, rtts: list[float]) -> str:
    q = statistics.quantiles(rtts, n=100)
    return (
        f"{name:>14}: {len(rtts):5d} pings  p50 {q[49]:7.2f} ms  p90 {q[89]:7.2f} ms  "
        f"p99 {q[98]:7.2f} ms  max {max(rtts):7.2f} ms"
    )


async def run(checkout: Path, seconds: float) -> None:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="fairness-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(CHAT_PORT=str(port), CHAT_DATA_DIR=str(data), CHAT_LOG_LEVEL="warning")
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
            for _ in range(11):
                creds = {"username": f"u{secrets.token_hex(4)}", "password": "long enough"}
                assert (await http.post("/api/v1/register", json=creds)).status_code == 201
                tokens.append((await http.post("/api/v1/login", json=creds)).json()["token"])
        quiet = await measure(port, tokens[:10], seconds / 2)
        outcome: Counter[str] = Counter()
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood, port, tokens[10], outcome, stop)
            await trio.sleep(0.5)
            flooded = await measure(port, tokens[:10], seconds)
            stop.set()
        print(f"server: {checkout}")
        print(summary("no flood", quiet))
        print(summary("with a flood", flooded))
        print(f"the flooder's frames were answered: {dict(outcome)}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkout", type=Path, default=ROOT, help="the server's source tree (default: this one)"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    trio.run(run, args.checkout.resolve(), args.seconds)


if __name__ == "__main__":
    main()
