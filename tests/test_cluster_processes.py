"""The cluster mode with real processes (docs/cluster.md): two or three ``chat-server`` processes behind HAProxy.

Each test starts its own cluster (tests/cluster.py) over a fresh database
and a Redis namespace of its own, and puts its users' sessions on the
processes it names, straight to a process's port or through the balancer.
Which process a session landed on is read from that process's
``/metrics``. What one process does reaches the others only through Redis,
so whatever a test waits for from another process is waited for on the real
clock, with a deadline.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from cluster.link import TIMEOUT
from cluster.node import BEAT_EVERY, REAP_EVERY
from tests.cluster import ON_MARIADB, ON_POSTGRES, Cluster, StartCluster, free_port, redis_command
from tests.conftest import Account, Peer, open_ws

pytestmark = pytest.mark.cluster

LOBBY = "lobby"
AFTER_A_DEATH = 10.0
"""The issue's bound: a killed process's users are gone from every list within this many seconds."""


# --- users and sessions ---------------------------------------------------------------------------


class Session(Peer):
    """A session whose commands keep the frames they skip for whatever the test reads next.

    ``Peer.command`` drops every frame before its reply; here a notice or a
    message that came first must still be counted, so it waits its turn.
    """

    def __init__(self, ws: WebSocketConnection) -> None:
        super().__init__(ws)
        self.backlog: deque[dict[str, Any]] = deque()

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.popleft()
        return await super().recv(timeout)

    async def command(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = secrets.token_hex(4)
        await self.send({**obj, "ref": ref})
        skipped = []
        with trio.fail_after(10):
            while (frame := await super().recv(10)).get("ref") != ref:
                skipped.append(frame)
        self.backlog.extend(skipped)
        return frame


async def account(cluster: Cluster) -> Account:
    """A new user, registered and logged in through the balancer."""
    username, password = f"u{secrets.token_hex(4)}", "correct horse"
    async with httpx.AsyncClient(base_url=cluster.http, timeout=10) as http:
        r = await http.post("/api/v1/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.text
        r = await http.post("/api/v1/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
    body = r.json()
    return Account(body["user"]["user_id"], username, password, body["token"])


async def session(
    nursery: trio.Nursery, ws_url: str, user: Account, *, join: tuple[str, ...] = (LOBBY,)
) -> Session:
    """A session at ``ws_url`` (a process's or the balancer's), joined to ``join``."""
    peer = Session(await open_ws(nursery, f"{ws_url}?token={user.token}"))
    for room_id in join:
        reply = await peer.command({"type": "join", "room_id": room_id})
        assert reply["type"] == "joined", reply
    return peer


async def get(url: str, path: str, user: Account) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        r = await http.get(path, headers={"Authorization": f"Bearer {user.token}"}, params={"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()


async def sessions_by_process(cluster: Cluster) -> list[int]:
    """How many sessions each process holds, by its own ``/metrics``."""
    counts = []
    for node in cluster.nodes:
        async with httpx.AsyncClient(base_url=node.url, timeout=5) as http:
            text = (await http.get("/metrics")).text
        line = next(line for line in text.splitlines() if line.startswith("chat_sessions "))
        counts.append(int(float(line.split()[1])))
    return counts


async def health(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return (await http.get("/healthz")).status_code


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> float:
    """Poll ``check`` until it holds; the seconds it took. Another process's state is only seen by asking."""
    start = trio.current_time()
    with trio.fail_after(timeout):
        while not await check():
            await trio.sleep(0.1)  # a session may send 20 frames a second
    return trio.current_time() - start


def ids_of(users: list[dict[str, str]]) -> list[str]:
    return sorted(u["user_id"] for u in users)


async def online(peer: Peer, room_id: str | None = None) -> list[str]:
    """The online list as ``peer``'s process answers it (per room, or site-wide)."""
    command = {"type": "online"} | ({"room_id": room_id} if room_id else {})
    reply = await peer.command(command)
    assert reply["type"] == "online", reply
    return ids_of(reply["users"])


async def frames(
    peer: Peer, kind: str, count: int, timeout: float = 20, **fields: Any
) -> list[dict[str, Any]]:
    """The next ``count`` frames of type ``kind`` (matching ``fields``), skipping the others."""
    with trio.fail_after(timeout):
        return [await peer.expect(kind, timeout=timeout, **fields) for _ in range(count)]


async def frames_until(
    peer: Peer, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
) -> list[dict[str, Any]]:
    """Every frame until ``done`` holds for those seen."""
    seen: list[dict[str, Any]] = []
    with trio.fail_after(timeout):
        while not done(seen):
            seen.append(await peer.recv(timeout))
    return seen


def kinds(seen: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in seen if f.get("type") == kind]


async def until_content(peer: Peer, content: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Every frame up to and including the message ``content``: notices keep their place among messages."""
    seen = []
    with trio.fail_after(timeout):
        while True:
            frame = await peer.recv(timeout)
            seen.append(frame)
            if frame.get("type") in ("group", "private") and frame.get("content") == content:
                return seen


def notices(seen: list[dict[str, Any]], room_id: str | None = None) -> list[tuple[str, str]]:
    return [
        (f["event"], f["user"]["user_id"])
        for f in seen
        if f.get("type") == "system" and (room_id is None or f["room_id"] == room_id)
    ]


async def closed_with(peer: Peer, timeout: float = 10) -> int:
    """The close code the session ends with (frames before it are skipped)."""
    with trio.fail_after(timeout):
        try:
            while True:
                await peer.ws.get_message()
        except ConnectionClosed as closed:
            assert closed.reason is not None
            return int(closed.reason.code)


# --- rooms and fan-out ------------------------------------------------------------------------------


@ON_MARIADB
async def test_a_group_message_posted_through_any_process_reaches_every_session_on_every_process_once(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    users = [await account(cluster) for _ in range(4)]
    direct = [await session(nursery, node.ws_url, users[n]) for n, node in enumerate(cluster.nodes)]
    balanced = [await session(nursery, cluster.ws_url, users[3]) for _ in cluster.nodes]

    async def spread() -> bool:  # round robin: one session of each kind on every process
        return await sessions_by_process(cluster) == [2, 2, 2]

    await eventually(spread)
    everyone = direct + balanced
    senders = [*direct, balanced[0]]  # one on each process, and one through the balancer
    for n, sender in enumerate(senders):
        await sender.send({"type": "group", "room_id": LOBBY, "content": f"from {n}", "ref": n})
    orders = []
    for peer in everyone:
        mine = [f"from {senders.index(peer)}"] if peer in senders else []

        def done(got: list[dict[str, Any]], acks: int = len(mine)) -> bool:
            return len(kinds(got, "group")) == len(senders) and len(kinds(got, "ack")) == acks

        seen = await frames_until(peer, done)
        by_content = {f["content"]: f["id"] for f in kinds(seen, "group")}
        assert [a["id"] for a in kinds(seen, "ack")] == [by_content[c] for c in mine]
        orders.append([f["id"] for f in kinds(seen, "group")])
    assert all(order == orders[0] for order in orders)
    await direct[0].command({"type": "group", "room_id": LOBBY, "content": "end"})
    for peer in everyone:  # nothing came twice: the next message is the marker
        assert [f["content"] for f in kinds(await until_content(peer, "end"), "group")] == ["end"]


# --- one order ----------------------------------------------------------------------------------------


@ON_POSTGRES
async def test_every_session_on_every_process_sees_a_room_in_one_order_the_historys_with_senders_on_each(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    senders_accounts = [await account(cluster) for _ in cluster.nodes]
    reader = await account(cluster)
    senders = [
        await session(nursery, node.ws_url, senders_accounts[n]) for n, node in enumerate(cluster.nodes)
    ]
    readers = [await session(nursery, node.ws_url, reader) for node in cluster.nodes]
    per_sender = 30
    total = per_sender * len(senders)
    seen: dict[int, list[dict[str, Any]]] = {}
    acks: dict[int, list[dict[str, Any]]] = {}

    async def send_and_read(n: int, peer: Peer) -> None:
        for i in range(per_sender):
            await peer.send({"type": "group", "room_id": LOBBY, "content": f"{n}:{i}", "ref": f"{n}:{i}"})
        acks[n], seen[n] = [], []
        with trio.fail_after(30):
            while len(acks[n]) < per_sender or len(seen[n]) < total:
                frame = await peer.recv(30)
                assert frame["type"] in ("ack", "group", "system"), frame
                if frame["type"] != "system":  # the other readers' joins
                    (acks[n] if frame["type"] == "ack" else seen[n]).append(frame)

    async def read(n: int, peer: Peer) -> None:
        seen[n] = await frames(peer, "group", total, timeout=30)

    async with trio.open_nursery() as racing:  # every sender at once, on its own process
        for n, peer in enumerate(senders):
            racing.start_soon(send_and_read, n, peer)
        for n, peer in enumerate(readers):
            racing.start_soon(read, len(senders) + n, peer)

    orders = [[f["id"] for f in seen[n]] for n in sorted(seen)]
    assert all(order == orders[0] for order in orders)
    assert orders[0] == sorted(set(orders[0])) and len(orders[0]) == total
    history = await get(cluster.nodes[1].url, f"/api/v1/rooms/{LOBBY}/messages", reader)
    assert [m["id"] for m in history["messages"]] == orders[0]
    assert [m["content"] for m in history["messages"]] == [f["content"] for f in seen[0]]
    acked = {a["id"] for n in acks for a in acks[n]}
    assert len(acked) == total and acked <= set(orders[0])  # every ack is stored and was delivered


@ON_MARIADB
async def test_a_private_conversation_is_in_one_order_on_every_process_with_both_sides_sending_at_once(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    alice, bob = await account(cluster), await account(cluster)
    p0, p1, p2 = (node.ws_url for node in cluster.nodes)
    alice_sessions = [await session(nursery, p0, alice, join=()), await session(nursery, p1, alice, join=())]
    bob_sessions = [await session(nursery, p1, bob, join=()), await session(nursery, p2, bob, join=())]
    await eventually(lambda: _online_everywhere(alice_sessions[0], bob.user_id))
    await eventually(lambda: _online_everywhere(bob_sessions[1], alice.user_id))
    per_side, total = 30, 60
    seen: dict[str, list[dict[str, Any]]] = {}
    acks: dict[str, list[dict[str, Any]]] = {}

    async def send_and_read(name: str, peer: Peer, target: Account) -> None:
        for i in range(per_side):
            await peer.send(
                {"type": "private", "target_id": target.user_id, "content": f"{name}{i}", "ref": i}
            )
        acks[name], seen[name] = [], []
        with trio.fail_after(30):
            while len(acks[name]) < per_side or len(seen[name]) < total:
                frame = await peer.recv(30)
                assert frame["type"] in ("ack", "private"), frame
                (acks[name] if frame["type"] == "ack" else seen[name]).append(frame)

    async def read(name: str, peer: Peer) -> None:
        seen[name] = await frames(peer, "private", total, timeout=30)

    async with trio.open_nursery() as racing:
        racing.start_soon(send_and_read, "alice0", alice_sessions[0], bob)
        racing.start_soon(send_and_read, "bob2", bob_sessions[1], alice)
        racing.start_soon(read, "alice1", alice_sessions[1])
        racing.start_soon(read, "bob1", bob_sessions[0])

    orders = [[f["id"] for f in frames_] for frames_ in seen.values()]
    assert all(order == orders[0] for order in orders)
    assert orders[0] == sorted(set(orders[0])) and len(orders[0]) == total
    history = await get(cluster.nodes[2].url, f"/api/v1/private/{alice.user_id}/messages", bob)
    assert [m["id"] for m in history["messages"]] == orders[0]
    acked = [a for side in acks.values() for a in side]
    assert {a["id"] for a in acked} <= set(orders[0]) and len(acked) == total
    assert all(a["delivered"] is True for a in acked)


async def _online_everywhere(peer: Peer, user_id: str) -> bool:
    return user_id in await online(peer)


# --- private messages ------------------------------------------------------------------------------------


@ON_POSTGRES
async def test_a_private_message_reaches_the_target_and_sender_everywhere_and_delivered_means_online_anywhere(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    alice, bob = await account(cluster), await account(cluster)
    p0, p1, p2 = (node.ws_url for node in cluster.nodes)
    alice_p0 = await session(nursery, p0, alice, join=())
    alice_p2 = await session(nursery, p2, alice, join=())
    bob_p1 = await session(nursery, p1, bob, join=())
    bob_p2 = await session(nursery, p2, bob, join=())
    await eventually(lambda: _online_everywhere(alice_p0, bob.user_id))

    ack = await alice_p0.command({"type": "private", "target_id": bob.user_id, "content": "one"})
    assert ack["type"] == "ack" and ack["delivered"] is True, ack
    for peer in (alice_p0, alice_p2, bob_p1, bob_p2):
        got = kinds(await until_content(peer, "one"), "private")
        assert [(f["id"], f["target_id"]) for f in got] == [(ack["id"], bob.user_id)]

    await bob_p2.ws.aclose()  # bob is left with a session on a process alice has none on
    second = await alice_p0.command({"type": "private", "target_id": bob.user_id, "content": "two"})
    assert second["delivered"] is True, second
    assert [f["id"] for f in kinds(await until_content(bob_p1, "two"), "private")] == [second["id"]]

    await bob_p1.ws.aclose()

    async def bob_gone() -> bool:
        return bob.user_id not in await online(alice_p2)

    await eventually(bob_gone)
    third = await alice_p2.command({"type": "private", "target_id": bob.user_id, "content": "three"})
    assert third["type"] == "ack" and third["delivered"] is False, third
    for peer in (alice_p0, alice_p2):  # the sender's sessions still get their copy
        assert kinds(await until_content(peer, "three"), "private")[-1]["id"] == third["id"]
    history = await get(cluster.nodes[1].url, f"/api/v1/private/{alice.user_id}/messages", bob)
    assert [m["id"] for m in history["messages"]] == [ack["id"], second["id"], third["id"]]


# --- presence ---------------------------------------------------------------------------------------


@ON_MARIADB
async def test_online_lists_are_the_union_over_processes_and_a_user_joins_and_leaves_once(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    carol, alice = await account(cluster), await account(cluster)
    p0, p1, p2 = (node.ws_url for node in cluster.nodes)
    watcher = await session(nursery, p0, carol)
    phone = await session(nursery, p1, alice)
    laptop = await session(nursery, p2, alice)  # her second session anywhere: no notice
    both = sorted([alice.user_id, carol.user_id])

    async def site_wide_everywhere() -> bool:
        return all([await online(peer) == both for peer in (watcher, phone, laptop)])

    await eventually(site_wide_everywhere)
    for peer in (watcher, phone, laptop):
        assert await online(peer, LOBBY) == both
    for node in cluster.nodes:
        assert ids_of((await get(node.url, f"/api/v1/rooms/{LOBBY}/online", carol))["users"]) == both
        assert ids_of((await get(node.url, "/api/v1/online", carol))["users"]) == both

    await phone.ws.aclose()  # not her last session: she stays, and nobody is told

    async def phone_gone() -> bool:
        return (await sessions_by_process(cluster))[1] == 0

    await eventually(phone_gone)
    assert await online(watcher) == both and await online(watcher, LOBBY) == both
    await laptop.ws.aclose()  # her last one anywhere: one leave

    async def alice_gone() -> bool:
        # Site-wide and the room's list are counted apart (the registry, the room): wait for both.
        return await online(watcher) == await online(watcher, LOBBY) == [carol.user_id]

    await eventually(alice_gone)
    await watcher.command({"type": "group", "room_id": LOBBY, "content": "end"})
    assert notices(await until_content(watcher, "end")) == [("join", alice.user_id), ("leave", alice.user_id)]


# --- a process that dies, or stops ------------------------------------------------------------------------


@ON_MARIADB
async def test_a_killed_process_leaves_no_ghost_one_leave_per_user_and_room_and_the_others_keep_serving(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    carol, bob, dave, eve = [await account(cluster) for _ in range(4)]
    async with httpx.AsyncClient(base_url=cluster.http, timeout=10) as http:
        r = await http.post(
            "/api/v1/rooms", json={"name": "Second"}, headers={"Authorization": f"Bearer {carol.token}"}
        )
        assert r.status_code == 201, r.text
        second = r.json()["room"]["room_id"]
    p0, p1, p2 = (node.ws_url for node in cluster.nodes)
    watcher = await session(nursery, p0, carol, join=(LOBBY, second))
    await session(nursery, p2, bob, join=(LOBBY, second))
    await session(nursery, p2, bob)  # two sessions of his on the process that dies: still one leave
    dave_p1 = await session(nursery, p1, dave)
    await session(nursery, p2, dave)  # dave has a session elsewhere: he stays
    everyone = sorted([bob.user_id, carol.user_id, dave.user_id])

    async def all_online() -> bool:
        return await online(watcher) == everyone

    await eventually(all_online)

    await cluster.kill(2)
    start = trio.current_time()
    leaves = {(f["room_id"], f["user"]["user_id"]) for f in await frames(watcher, "system", 2, event="leave")}
    assert leaves == {(LOBBY, bob.user_id), (second, bob.user_id)}
    assert trio.current_time() - start < AFTER_A_DEATH
    survivors = sorted([carol.user_id, dave.user_id])
    assert await online(watcher) == survivors == await online(dave_p1)
    assert await online(watcher, LOBBY) == survivors == await online(dave_p1, LOBBY)
    assert await online(watcher, second) == [carol.user_id]

    # The others keep serving, and the balancer sends a newcomer to a live process.
    newcomer = await session(nursery, cluster.ws_url, eve)
    await dave_p1.command({"type": "group", "room_id": LOBBY, "content": "after"})
    for peer in (watcher, newcomer):
        await until_content(peer, "after")
    # Both survivors look for the dead: a second leave would be published by now.
    await trio.sleep(REAP_EVERY)
    for room_id in (LOBBY, second):
        await watcher.command({"type": "group", "room_id": room_id, "content": f"end {room_id}"})
        seen = await until_content(watcher, f"end {room_id}")
        assert [n for n in notices(seen, room_id) if n[0] == "leave"] == []


@ON_POSTGRES
async def test_a_process_stopped_gracefully_leaves_no_ghost_at_once(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(2)
    carol, bob, dave = [await account(cluster) for _ in range(3)]
    p0, p1 = cluster.nodes[0].ws_url, cluster.nodes[1].ws_url
    watcher = await session(nursery, p0, carol)
    await session(nursery, p1, bob)
    await session(nursery, p1, dave)
    await session(nursery, p0, dave)
    everyone = sorted([bob.user_id, carol.user_id, dave.user_id])

    async def all_online() -> bool:
        return await online(watcher) == everyone

    await eventually(all_online)
    start = trio.current_time()
    async with trio.open_nursery() as stopping:
        stopping.start_soon(cluster.terminate, 1)
        leave = await watcher.expect("system", timeout=5, event="leave")
        took = trio.current_time() - start
    assert leave["user"]["user_id"] == bob.user_id
    # Reaping would take the rest of the process's 5 s lifetime (3.5 s at the soonest) and up to 2 s more.
    assert took < 3, f"the leave came {took:.1f} s after SIGTERM: it waited for the process to be reaped"
    assert await online(watcher) == sorted([carol.user_id, dave.user_id])
    await watcher.command({"type": "group", "room_id": LOBBY, "content": "end"})
    assert notices(await until_content(watcher, "end")) == []


# --- Redis restarts ---------------------------------------------------------------------------------


@dataclass
class DedicatedRedis:
    """A ``redis-server`` of the test's own, without persistence, that it can kill and start again."""

    binary: str
    port: int
    log_path: Path
    process: trio.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = await trio.lowlevel.open_process(command, stdout=log, stderr=log)
        with trio.fail_after(10):
            while redis_command(self.url, "PING") is None:
                await trio.sleep(0.02)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()


@pytest.fixture
async def dedicated_redis(tmp_path: Path) -> AsyncIterator[DedicatedRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    redis = DedicatedRedis(binary, free_port(), tmp_path / "redis.log")
    await redis.start()
    yield redis
    if redis.process is not None and redis.process.returncode is None:
        await redis.kill()


async def reconnect(
    nursery: trio.Nursery, ws_url: str, user: Account, command: dict[str, Any]
) -> tuple[Session, dict[str, Any]]:
    """Connect again, as a client does after 1012, until ``command`` is answered and the session stays open."""
    with trio.fail_after(10):
        while True:
            with contextlib.suppress(ConnectionClosed):  # closed at once: the process is not back yet
                peer = Session(await open_ws(nursery, f"{ws_url}?token={user.token}"))
                reply = await peer.command(command)
                if reply["type"] != "error":
                    await peer.command({"type": "ping"})  # answered after the reply: the session stays
                    return peer, reply
                assert reply["code"] == "unavailable", reply
                await peer.ws.aclose()
            await trio.sleep(0.2)


@ON_POSTGRES
async def test_after_redis_restarts_empty_sessions_come_back_ids_go_on_and_nothing_acked_is_lost(
    dedicated_redis: DedicatedRedis, start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(2, redis_url=dedicated_redis.url)
    alice, bob, carol = [await account(cluster) for _ in range(3)]
    p0, p1 = cluster.nodes[0].ws_url, cluster.nodes[1].ws_url
    alice_p0, bob_p1 = await session(nursery, p0, alice), await session(nursery, p1, bob)
    acked: list[int] = []
    for n in range(5):
        acked.append((await alice_p0.command({"type": "group", "room_id": LOBBY, "content": f"m{n}"}))["id"])
    assert [f["id"] for f in await frames(bob_p1, "group", 5)] == acked
    private = await alice_p0.command({"type": "private", "target_id": bob.user_id, "content": "psst"})
    assert private["type"] == "ack", private

    # Bob keeps sending while Redis dies under him; each of his acks is a promise the history keeps.
    async def keep_sending() -> None:
        with contextlib.suppress(ConnectionClosed):
            for n in range(1000):
                await bob_p1.send({"type": "group", "room_id": LOBBY, "content": f"b{n}", "ref": n})
                await trio.sleep(0.01)

    refusals: list[str] = []

    async def read_acks() -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await bob_p1.recv(30)
                if frame["type"] == "ack":
                    acked.append(frame["id"])
                elif frame["type"] == "error":
                    refusals.append(frame["code"])

    async with trio.open_nursery() as traffic:
        traffic.start_soon(keep_sending)
        traffic.start_soon(read_acks)
        await trio.sleep(0.3)
        await dedicated_redis.kill()
    assert bob_p1.ws.closed is not None and bob_p1.ws.closed.code == 1012  # he cannot know what he missed
    assert set(refusals) <= {"unavailable"}
    assert await closed_with(alice_p0) == 1012

    # Away: a process without its subscription keeps no session; a newcomer is told to come back,
    # and /healthz says so, for the balancer to send newcomers elsewhere.
    assert await closed_with(await session(nursery, p0, carol, join=())) == 1012
    assert [await health(node.url) for node in cluster.nodes] == [503, 503]

    await dedicated_redis.start()  # empty: no counter, no presence, no subscriptions
    back = trio.current_time()
    rejoin = {"type": "join", "room_id": LOBBY, "since": acked[0] - 1}
    alice_again, alice_joined = await reconnect(nursery, p1, alice, rejoin)
    bob_again, bob_joined = await reconnect(nursery, p0, bob, rejoin)
    carol_again, _ = await reconnect(nursery, p0, carol, {"type": "sync", "since": 0})
    for joined in (alice_joined, bob_joined):  # every acked message is in the history, and recovered
        recovered = [m["id"] for m in joined["messages"]]
        assert set(acked) <= set(recovered) and recovered == sorted(recovered), (acked, recovered)
    synced = await bob_again.command({"type": "sync", "since": private["id"] - 1})
    assert [m["id"] for m in synced["messages"]] == [private["id"]], synced
    after = await alice_again.command({"type": "group", "room_id": LOBBY, "content": "after"})
    assert after["type"] == "ack", after
    assert after["id"] > max(acked)  # the counter went on from the database: no id used twice
    seen = await until_content(bob_again, "after")
    assert [f["id"] for f in kinds(seen, "group")] == [after["id"]]
    assert trio.current_time() - back < 10
    assert [await health(node.url) for node in cluster.nodes] == [200, 200]

    # Presence is rebuilt by the sessions that came back, on either process, and it stays so: what
    # each process had counted before was undone before anyone could be counted in again.
    expected = [(sorted([alice.user_id, bob.user_id, carol.user_id]), sorted([alice.user_id, bob.user_id]))]

    async def lists() -> list[tuple[list[str], list[str]]]:
        return [
            (
                ids_of((await get(node.url, "/api/v1/online", carol))["users"]),
                ids_of((await get(node.url, f"/api/v1/rooms/{LOBBY}/online", carol))["users"]),
            )
            for node in cluster.nodes
        ]

    async def presence_rebuilt() -> bool:
        return await lists() == expected * 2

    await eventually(presence_rebuilt)
    await trio.sleep(BEAT_EVERY)  # a process undoing its old counts on its next beat would have by now
    assert await lists() == expected * 2
    to_carol = await alice_again.command({"type": "private", "target_id": carol.user_id, "content": "back"})
    assert to_carol["type"] == "ack" and to_carol["delivered"] is True, to_carol
    assert [f["id"] for f in kinds(await until_content(carol_again, "back"), "private")] == [to_carol["id"]]
    await alice_again.command({"type": "group", "room_id": LOBBY, "content": "end"})
    seen += await until_content(bob_again, "end")
    assert [n for n in notices(seen) if n[0] == "leave"] == []
    assert [n for n in notices(await until_content(alice_again, "end")) if n[0] == "leave"] == []


@ON_POSTGRES
async def test_while_redis_does_not_answer_sending_is_refused_with_unavailable_and_then_goes_on(
    dedicated_redis: DedicatedRedis, start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(2, redis_url=dedicated_redis.url)
    alice, bob, carol = [await account(cluster) for _ in range(3)]
    alice_p0 = await session(nursery, cluster.nodes[0].ws_url, alice)
    bob_p1 = await session(nursery, cluster.nodes[1].ws_url, bob)
    first = await alice_p0.command({"type": "group", "room_id": LOBBY, "content": "before"})
    assert [f["id"] for f in await frames(bob_p1, "group", 1)] == [first["id"]]
    for_carol = await alice_p0.command({"type": "private", "target_id": carol.user_id, "content": "later"})
    assert for_carol["type"] == "ack" and for_carol["delivered"] is False, for_carol

    assert dedicated_redis.process is not None
    dedicated_redis.process.send_signal(signal.SIGSTOP)  # there, but silent: as a partition or a stall
    try:
        took = []

        async def newcomer() -> None:
            # Told to come back, rather than kept with a ``sync`` that would answer "recovered"
            # without what she missed: where her channel's history ends cannot be read.
            carol_p1 = await session(nursery, cluster.nodes[1].ws_url, carol, join=())
            assert await closed_with(carol_p1) == 1012

        async with trio.open_nursery() as stalled:
            stalled.start_soon(newcomer)
            for command in (
                {"type": "group", "room_id": LOBBY, "content": "lost"},
                {"type": "private", "target_id": bob.user_id, "content": "lost"},
            ):
                start = trio.current_time()
                refused = await alice_p0.command(command)
                took.append(trio.current_time() - start)
                assert refused["type"] == "error" and refused["code"] == "unavailable", refused
    finally:
        dedicated_redis.process.send_signal(signal.SIGCONT)

    after = await alice_p0.command({"type": "group", "room_id": LOBBY, "content": "after"})
    assert after["type"] == "ack" and after["id"] > first["id"], after
    # A refused append that Redis ran once it woke up is announced failed by its process: the room
    # does not hold its deliveries behind it for the half minute a lost announcement is waited for.
    seen = await until_content(bob_p1, "after", timeout=8)
    assert [f["content"] for f in kinds(seen, "group")] == ["after"]
    history = await get(cluster.nodes[1].url, f"/api/v1/rooms/{LOBBY}/messages", bob)
    assert [m["content"] for m in history["messages"]] == ["before", "after"]
    assert max(took) < 1.5 * TIMEOUT, f"refusing took {took} s: one Redis timeout is {TIMEOUT} s"
    _, synced = await reconnect(nursery, cluster.nodes[1].ws_url, carol, {"type": "sync", "since": 0})
    assert [m["id"] for m in synced["messages"]] == [for_carol["id"]], synced
