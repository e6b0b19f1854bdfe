"""RFC 6455 on the chat socket: what the server's own frame reader accepts, answers and refuses.

The server reads WebSocket frames itself after the handshake
(:mod:`transport.websocket`). These tests drive it with hand-built frames over
a real socket; the server's frames are parsed by wsproto, an independent
implementation, so a malformed frame from the server fails them too.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import trio
from wsproto.events import Pong, TextMessage

from tests.conftest import Api, Server, start_server, with_config
from tests.raw_websocket import BINARY, CLOSE, CONTINUATION, PING, TEXT, RawClient, client_frame
from tests.supervision_log import SupervisionLog
from web.config import Config
from wire.frames import Close, FrameReader, Ping, ProtocolError


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The frame layer never reaches the database: SQLite only."""
    return sqlite_url


@pytest.fixture
async def raw(api: Api, server: Server) -> RawClient:
    return await RawClient.open(server, await api.account())


async def test_a_message_in_fragments_with_a_ping_between_them_is_one_command(raw: RawClient) -> None:
    await raw.send(
        client_frame(TEXT, b'{"type":', fin=False)
        + client_frame(PING, b"are you there")
        + client_frame(CONTINUATION, b' "ping",', fin=False)
        + client_frame(CONTINUATION, b' "ref": 7}')
    )
    pong = await raw.next_event()
    assert isinstance(pong, Pong) and pong.payload == b"are you there"
    reply = await raw.next_event()
    assert isinstance(reply, TextMessage) and json.loads(reply.data) == {"type": "pong", "ref": 7}


async def test_many_frames_in_one_write_are_answered_in_order(raw: RawClient) -> None:
    await raw.send(
        b"".join(client_frame(TEXT, json.dumps({"type": "ping", "ref": n}).encode()) for n in range(50))
    )
    refs = []
    for _ in range(50):
        event = await raw.next_event()
        refs.append(json.loads(event.data)["ref"])
    assert refs == list(range(50))


async def test_a_frame_split_across_many_writes_is_put_back_together(raw: RawClient) -> None:
    frame = client_frame(TEXT, json.dumps({"type": "ping", "ref": "x" * 60}).encode())
    for i in range(len(frame)):
        await raw.send(frame[i : i + 1])
    event = await raw.next_event()
    assert json.loads(event.data) == {"type": "pong", "ref": "x" * 60}


async def test_a_binary_frame_is_a_bad_request_and_the_connection_stays(raw: RawClient) -> None:
    await raw.send(client_frame(BINARY, b"\x00\x01"))
    event = await raw.next_event()
    assert json.loads(event.data)["code"] == "bad_request"
    await raw.send(client_frame(TEXT, b'{"type": "ping"}'))
    assert json.loads((await raw.next_event()).data) == {"type": "pong"}


async def test_the_client_closing_gets_its_code_back_and_the_connection_ends(raw: RawClient) -> None:
    await raw.send(client_frame(CLOSE, (4000).to_bytes(2, "big") + b"bye"))
    closed = await raw.expect_close()
    assert closed.code == 4000


REFUSED = {
    "unmasked frame": (client_frame(TEXT, b'{"type":"ping"}', masked=False), 1002),
    "RSV1 without compression": (client_frame(TEXT, b'{"type":"ping"}', rsv=0x40), 1002),
    "reserved data opcode": (client_frame(0x3, b"?"), 1002),
    "reserved control opcode": (client_frame(0xB, b"?"), 1002),
    "continuation of nothing": (client_frame(CONTINUATION, b"?"), 1002),
    "new message inside a fragmented one": (
        client_frame(TEXT, b"{", fin=False) + client_frame(TEXT, b"}"),
        1002,
    ),
    "fragmented ping": (client_frame(PING, b"x", fin=False), 1002),
    "ping over 125 bytes": (client_frame(PING, b"x" * 126), 1002),
    "one-byte close payload": (client_frame(CLOSE, b"\x03"), 1002),
    "close code 1005 on the wire": (client_frame(CLOSE, (1005).to_bytes(2, "big")), 1002),
    "close code 999": (client_frame(CLOSE, (999).to_bytes(2, "big")), 1002),
    "invalid UTF-8 text": (client_frame(TEXT, b'{"type":"\xff"}'), 1007),
    "invalid UTF-8 close reason": (client_frame(CLOSE, (1000).to_bytes(2, "big") + b"\xc3"), 1007),
    "one frame over 64 KiB": (client_frame(TEXT, b"x" * 70_000), 1009),
    "fragments over 64 KiB together": (
        client_frame(TEXT, b"x" * 40_000, fin=False) + client_frame(CONTINUATION, b"x" * 40_000),
        1009,
    ),
}


@pytest.mark.parametrize("data, code", REFUSED.values(), ids=REFUSED.keys())
async def test_a_frame_that_breaks_the_protocol_is_closed_with_its_code(
    raw: RawClient, data: bytes, code: int
) -> None:
    await raw.send(data)
    closed = await raw.expect_close()
    assert closed.code == code


async def test_the_server_keeps_serving_after_refusing_a_client(
    api: Api, server: Server, raw: RawClient
) -> None:
    await raw.send(client_frame(TEXT, b"\xff"))
    assert (await raw.expect_close()).code == 1007
    other = await RawClient.open(server, await api.account())
    await other.send(client_frame(TEXT, b'{"type": "ping"}'))
    assert json.loads((await other.next_event()).data) == {"type": "pong"}


CLOSING_SEQUENCES = {
    "a close frame (1000)": (client_frame(CLOSE, (1000).to_bytes(2, "big")), 1000),
    "invalid UTF-8": (client_frame(TEXT, b"\xff"), 1007),
    "an unmasked frame": (client_frame(TEXT, b"{}", masked=False), 1002),
    "a frame over the limit": (client_frame(TEXT, b"x" * 70_000), 1009),
}


@pytest.mark.parametrize("data, code", CLOSING_SEQUENCES.values(), ids=CLOSING_SEQUENCES.keys())
async def test_a_command_right_before_the_close_never_costs_the_close_frame(
    api: Api, server: Server, data: bytes, code: int
) -> None:
    """RFC 6455 5.5.1: a close is answered, even while the reply to the command before it is written.

    The reply and the close arrive in one segment; the writer flushing the
    reply must not end the session before its close frame is out.
    """
    account = await api.account()
    for _ in range(300):
        raw = await RawClient.open(server, account)
        await raw.send(client_frame(TEXT, b'{"type":"ping"}') + data)
        assert (await raw.expect_close()).code == code
        await raw.stream.aclose()


async def test_a_server_stopped_without_asking_its_sessions_still_sends_1001(config: Config) -> None:
    """A session the shutdown did not reach (cancelled from outside) tells its client why it goes."""
    async with trio.open_nursery() as server_nursery:
        server = await start_server(server_nursery, config)
        api = Api(server)
        raw = await RawClient.open(server, await api.account())
        await api.http.aclose()
        server_nursery.cancel_scope.cancel()
    assert (await raw.expect_close()).code == 1001


async def test_big_frames_are_charged_by_their_bytes_before_they_are_parsed(raw: RawClient) -> None:
    """128 KiB at once, then 32 KiB a second: ten 60 KB commands in one burst get two answers."""
    padded = json.dumps({"type": "ping", "pad": "x" * 60_000}).encode()
    await raw.send(client_frame(TEXT, padded) * 10)
    replies = [json.loads((await raw.next_event()).data) for _ in range(10)]
    assert [r["type"] for r in replies[:2]] == ["pong", "pong"]
    assert all(r["type"] == "error" and r["code"] == "rate_limited" for r in replies[2:])
    assert "KiB" in replies[2]["message"]
    await raw.send(client_frame(TEXT, b'{"type":"ping","ref":1}'))  # small frames still pass
    assert json.loads((await raw.next_event()).data) == {"type": "pong", "ref": 1}


async def test_a_frame_that_is_not_an_object_is_refused_unparsed(raw: RawClient) -> None:
    await raw.send(client_frame(TEXT, b"[" + b",".join([b"{}"] * 20_000) + b"]"))
    reply = json.loads((await raw.next_event()).data)
    assert reply == {"type": "error", "code": "bad_request", "message": "a frame must hold one JSON object"}


async def test_a_refused_small_frame_keeps_its_ref(config: Config, nursery: trio.Nursery) -> None:
    server = await start_server(nursery, with_config(config, ws_frame_rate=0.001, ws_frame_burst=1))
    api = Api(server)
    raw = await RawClient.open(server, await api.account())
    await api.http.aclose()
    await raw.send(
        client_frame(TEXT, b'{"type":"ping","ref":"a"}') + client_frame(TEXT, b'{"type":"ping","ref":"b"}')
    )
    assert json.loads((await raw.next_event()).data) == {"type": "pong", "ref": "a"}
    refused = json.loads((await raw.next_event()).data)
    assert refused["code"] == "rate_limited" and refused["ref"] == "b"


async def test_endless_empty_continuation_frames_are_closed_with_1009(raw: RawClient) -> None:
    """Each fragment adds no byte, so the size limit never trips; the fragment count does."""
    await raw.send(client_frame(TEXT, b"{", fin=False))
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        for _ in range(20):
            await raw.send(client_frame(CONTINUATION, b"", fin=False) * 1000)
    assert (await raw.expect_close()).code == 1009


async def test_a_message_in_more_fragments_than_allowed_is_closed_with_1009(raw: RawClient) -> None:
    fragments = [client_frame(TEXT, b"{", fin=False)]
    fragments += [client_frame(CONTINUATION, b" ", fin=False) for _ in range(200)]
    fragments.append(client_frame(CONTINUATION, b'"type":"ping"}'))
    await raw.send(b"".join(fragments))
    assert (await raw.expect_close()).code == 1009


async def test_every_ping_of_a_burst_is_answered_in_order(raw: RawClient) -> None:
    await raw.send(b"".join(client_frame(PING, f"{n:05}".encode()) for n in range(2000)))
    await raw.send(client_frame(TEXT, b'{"type":"ping","ref":"after"}'))
    pongs = []
    while True:
        event = await raw.next_event()
        if isinstance(event, TextMessage):
            break
        pongs.append(event.payload)
    assert pongs == [f"{n:05}".encode() for n in range(2000)]


def test_fragments_cost_memory_in_proportion_to_their_bytes() -> None:
    import tracemalloc

    reader = FrameReader(max_message=65_536, max_fragments=10**7)
    reader.feed(client_frame(TEXT, b"{", fin=False))
    assert reader.next_event() is None
    empty = client_frame(CONTINUATION, b"", fin=False) * 1000
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(200):  # 200,000 fragments of nothing
        reader.feed(empty)
        assert reader.next_event() is None
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 64 * 1024, grown  # a list of fragments grew by 8 bytes each: 1.6 MB here


# The reader alone, without a socket ------------------------------------------


def events_of(data: bytes, *, chunk: int, max_message: int = 1 << 20) -> list[Any]:
    reader = FrameReader(max_message)
    events = []
    for i in range(0, len(data), chunk):
        reader.feed(data[i : i + chunk])
        while (event := reader.next_event()) is not None:
            events.append(event)
    return events


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 125, 1 << 20])
def test_the_reader_gives_the_same_events_however_the_bytes_are_cut(chunk: int) -> None:
    big = "é" * 40_000  # 80,000 bytes: a 64-bit length
    medium = "m" * 300  # a 16-bit length
    data = (
        client_frame(TEXT, b"hello")
        + client_frame(TEXT, big.encode()[:50_001], fin=False)
        + client_frame(PING, b"p")
        + client_frame(CONTINUATION, big.encode()[50_001:])
        + client_frame(BINARY, b"")
        + client_frame(TEXT, medium.encode())
        + client_frame(CLOSE, (1000).to_bytes(2, "big") + "ciao ✓".encode())
    )
    assert events_of(data, chunk=chunk) == ["hello", Ping(b"p"), big, b"", medium, Close(1000, "ciao ✓")]


def test_the_size_limit_counts_bytes_and_allows_exactly_the_limit() -> None:
    assert events_of(client_frame(TEXT, b"x" * 100), chunk=1000, max_message=100) == ["x" * 100]
    with pytest.raises(ProtocolError) as refused:
        events_of(client_frame(TEXT, "é".encode() * 51), chunk=1000, max_message=100)
    assert refused.value.code == 1009


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    header = client_frame(TEXT, b"x" * 70_000)[:14]  # the payload never arrives
    with pytest.raises(ProtocolError) as refused:
        events_of(header, chunk=14, max_message=65_536)
    assert refused.value.code == 1009


async def test_a_client_that_pings_but_never_reads_is_dropped_once_its_outbox_overflows(
    config: Config, nursery: trio.Nursery
) -> None:
    """Its pongs fill its socket, so the session's reader waits on a write that never ends.

    The heartbeat's pings then overflow the session's outbox (1013): the
    pong being written must give way, and the connection must go, or the
    session would live as long as the client does.
    """
    server = await start_server(nursery, with_config(config, session_outbox=4, ping_interval=0.1))
    api = Api(server)
    try:
        account = await api.account()
        with SupervisionLog.attached() as supervision:
            raw = await RawClient.open(server, account, receive_buffer=4096)
            ping = client_frame(PING, b"p" * 125)

            async def flood() -> None:
                # One ping at a time, each read and answered before the next is sent,
                # until the pongs fill the socket.
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    for _ in range(10_000):  # 1.3 MB of pongs: more than the socket buffers take
                        await raw.send(ping)
                        await trio.testing.wait_all_tasks_blocked()

            nursery.start_soon(flood)
            with trio.fail_after(20):
                ended = await supervision.wait_for(
                    "stopped", lambda a: a.startswith(f"session:{account.user_id}:")
                )
        assert "1013" in ended.reason  # type: ignore[attr-defined]
        online = (await api.call("GET", "/api/v1/online", token=account.token)).json()["users"]
        assert account.user_id not in {u["user_id"] for u in online}
    finally:
        await api.http.aclose()


async def test_a_websocket_over_http2_is_refused_with_400(api: Api, server: Server) -> None:
    """RFC 8441: one HTTP/2 connection carries many streams, so there is no socket to take over."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings

    account = await api.account()
    stream = await trio.open_tcp_stream("127.0.0.1", server.running.port)
    h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    h2c.initiate_connection()  # prior knowledge: Hypercorn recognises the HTTP/2 preface
    await stream.send_all(h2c.data_to_send())

    async def events_until(done: type) -> list[Any]:
        seen: list[Any] = []
        with trio.fail_after(5):
            while not any(isinstance(e, done) for e in seen):
                data = await stream.receive_some(65536)
                assert data, "the server closed the HTTP/2 connection"
                seen += h2c.receive_data(data)
                await stream.send_all(h2c.data_to_send())
        return seen

    settings = await events_until(h2.events.RemoteSettingsChanged)
    assert any(  # the server offers extended CONNECT, so the refusal is ours, not a missing feature
        h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL in e.changed_settings
        for e in settings
        if isinstance(e, h2.events.RemoteSettingsChanged)
    )
    h2c.send_headers(
        1,
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", f"/ws?token={account.token}"),
            (":authority", "127.0.0.1"),
            ("sec-websocket-version", "13"),
        ],
    )
    await stream.send_all(h2c.data_to_send())
    events = await events_until(h2.events.StreamEnded)
    status = next(dict(e.headers)[b":status"] for e in events if isinstance(e, h2.events.ResponseReceived))
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    assert status == b"400"
    assert json.loads(body)["error"]["code"] == "bad_request"
    await stream.aclose()
