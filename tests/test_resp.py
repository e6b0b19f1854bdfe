"""The subscription connection (cluster/resp.py) against the real Redis: what the subscriber relies on.

Marked ``cluster`` and ``mariadb`` only to run in the cluster-on-MariaDB
stage: it needs Redis, no database.
"""

from __future__ import annotations

import functools
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
import trio.testing

from cluster.resp import QUIET, Pipeline, ReplyError, Subscription, command, open_subscription, parse
from tests.cluster import redis_command

pytestmark = [pytest.mark.cluster, pytest.mark.mariadb]


def test_a_value_is_read_only_once_all_of_it_is_there() -> None:
    whole = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n:1\r\n"
    for cut in range(len(whole) - 4):
        value, pos = parse(whole[:cut], 0)
        assert pos == 0 and not isinstance(value, list)
    value, pos = parse(whole, 0)
    assert value == [b"message", b"ch", b"hello"]
    assert parse(whole, pos) == (1, len(whole))
    error, _ = parse(b"-WRONGPASS nope\r\n", 0)
    assert isinstance(error, ReplyError) and "WRONGPASS" in str(error)


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert command("SUBSCRIBE", "a:b") == b"*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\na:b\r\n"


def publish(url: str, channel: str, data: str) -> int:
    """How many subscribers Redis handed ``data`` to (any size: sent as RESP, not inline)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=5) as s:
        s.sendall(command("PUBLISH", channel, data))
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += s.recv(64)
    assert reply.startswith(b":"), reply
    return int(reply[1:])


async def first(subscription: Subscription, count: int) -> list[tuple[bytes, bytes]]:
    got: list[tuple[bytes, bytes]] = []
    with trio.fail_after(5):
        while len(got) < count:
            got += await subscription.receive()
    return got


async def test_published_messages_arrive_in_order_whole_and_stop_after_unsubscribing(redis_url: str) -> None:
    one, two = f"t-{secrets.token_hex(4)}", f"t-{secrets.token_hex(4)}"
    big = "x" * 300_000  # more than one read: a burst of long posts is one publication
    async with open_subscription(redis_url) as subscription:
        await subscription.subscribe(one, two)
        with trio.fail_after(5):
            while publish(redis_url, one, "first") == 0:  # until Redis has taken the SUBSCRIBE
                await trio.sleep(0.01)
        assert publish(redis_url, two, big) == 1
        assert publish(redis_url, one, "last") == 1
        assert await first(subscription, 3) == [
            (one.encode(), b"first"),
            (two.encode(), big.encode()),
            (one.encode(), b"last"),
        ]
        await subscription.unsubscribe(one)
        with trio.fail_after(5):
            while publish(redis_url, one, "gone") != 0:
                await trio.sleep(0.01)  # Redis takes the UNSUBSCRIBE on its own time
        assert publish(redis_url, two, "still") == 1
        assert await first(subscription, 1) == [(two.encode(), b"still")]


async def test_a_connection_redis_drops_is_a_connection_error(redis_url: str) -> None:
    channel = f"t-{secrets.token_hex(4)}"
    async with open_subscription(redis_url) as subscription:
        await subscription.subscribe(channel)
        with trio.fail_after(5):
            while publish(redis_url, channel, "hi") == 0:
                await trio.sleep(0.01)
        host, port = subscription.address
        assert redis_command(redis_url, f"CLIENT KILL ADDR {host}:{port}") is not None
        with pytest.raises(ConnectionError), trio.fail_after(5):
            while True:
                await subscription.receive()


async def test_wrong_credentials_are_refused_at_once(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://nobody:wrong@")
    with pytest.raises(ConnectionError, match="WRONGPASS"), trio.fail_after(5):
        async with open_subscription(url):
            pass


async def test_a_quiet_subscription_is_kept_alive_by_pings_that_redis_answers(
    redis_url: str, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.2  # virtual time runs on once the real Redis has had time to answer
    channel = f"t-{secrets.token_hex(4)}"
    async with open_subscription(redis_url) as subscription:
        await subscription.subscribe(channel)
        with trio.move_on_after(10 * QUIET) as waited:
            await subscription.receive()  # nothing is published: only PINGs and their answers
        assert waited.cancelled_caught
        with trio.fail_after(5 * QUIET):
            while publish(redis_url, channel, "still here") == 0:
                await trio.sleep(0.01)
        assert await subscription.receive() == [(channel.encode(), b"still here")]


async def test_a_peer_that_goes_silent_is_a_lost_connection_after_a_ping_goes_unanswered(
    mock_clock: trio.testing.MockClock,
) -> None:
    """A partition: the connection stays open but nothing comes back, not even to a PING."""
    mock_clock.autojump_threshold = 0.05
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, _say_nothing, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        async with open_subscription(f"redis://127.0.0.1:{port}/0") as subscription:
            await subscription.subscribe("anything")
            start = trio.current_time()
            with pytest.raises(ConnectionError, match="PING"), trio.fail_after(10 * QUIET):
                await subscription.receive()
            assert trio.current_time() - start == pytest.approx(2 * QUIET)
        nursery.cancel_scope.cancel()


async def test_a_pipeline_matches_each_reply_to_its_command_with_many_in_flight(
    redis_url: str, nursery: trio.Nursery
) -> None:
    pipeline = Pipeline(redis_url, nursery, timeout=5)
    key = f"t-{secrets.token_hex(4)}"
    answers: dict[int, Any] = {}

    async def ask(n: int) -> None:
        answers[n] = await pipeline.call("ECHO", f"answer {n}")

    async with trio.open_nursery() as askers:
        for n in range(200):
            askers.start_soon(ask, n)
    assert answers == {n: f"answer {n}".encode() for n in range(200)}
    # The URL's database is selected: the key is where redis_command (which SELECTs it) looks.
    assert await pipeline.call("INCRBY", key, "5") == 5
    assert redis_command(redis_url, f"EXISTS {key}") == [b":1"]
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        await pipeline.call("LPUSH", key, "x")
    assert await pipeline.call("DEL", key) == 1  # an error reply leaves the connection usable


async def test_a_pipeline_whose_connection_redis_drops_fails_what_waits_and_connects_again(
    redis_url: str, nursery: trio.Nursery
) -> None:
    pipeline = Pipeline(redis_url, nursery, timeout=5)
    me = await pipeline.call("CLIENT", "ID")
    failed = trio.Event()

    async def wait_forever() -> None:
        with pytest.raises(ConnectionError):
            await pipeline.call("BLPOP", f"t-{secrets.token_hex(4)}", "0")  # answered by nothing but the kill
        failed.set()

    nursery.start_soon(wait_forever)
    await trio.testing.wait_all_tasks_blocked()  # its command is out, its reply awaited
    assert redis_command(redis_url, f"CLIENT KILL ID {me}") is not None
    with trio.fail_after(5):
        await failed.wait()
    assert await pipeline.call("CLIENT", "ID") != me


async def test_a_pipeline_that_gets_no_answer_gives_up_after_its_timeout(
    mock_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    mock_clock.autojump_threshold = 0.05
    listeners = await nursery.start(functools.partial(trio.serve_tcp, _say_nothing, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    pipeline = Pipeline(f"redis://127.0.0.1:{port}/0", nursery, timeout=2)
    start = trio.current_time()
    with pytest.raises(TimeoutError):
        await pipeline.call("PING")
    assert trio.current_time() - start == pytest.approx(2)
    nursery.cancel_scope.cancel()


async def _say_nothing(stream: trio.SocketStream) -> None:
    while await stream.receive_some():
        pass
