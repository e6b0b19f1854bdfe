"""A WebSocket client for tests that must send what a library would not, or see every frame the server sends.

Client frames are built byte by byte here, independently of the server's
:mod:`wire.frames`; the server's frames are parsed by wsproto, an
independent implementation, so a malformed frame from the server fails the
test that reads it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, Request, TextMessage

from tests.conftest import Account, Server

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0
) -> bytes:
    """A client frame built byte by byte, independently of the server's code."""
    head = bytearray([(0x80 if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head.append(mask_bit | n)
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawClient:
    """A WebSocket client that sends whatever bytes a test gives it and parses the server with wsproto."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Any] = []

    @classmethod
    async def open(cls, server: Server, account: Account, *, receive_buffer: int | None = None) -> RawClient:
        """Connect and upgrade; ``receive_buffer`` fixes the socket's receive buffer (no autotuning)."""
        sock = trio.socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        await sock.connect(("127.0.0.1", server.running.port))
        client = cls(trio.SocketStream(sock))
        await client.stream.send_all(
            client.ws.send(Request(host="127.0.0.1", target=f"/ws?token={account.token}"))
        )
        event = await client.next_event()
        assert isinstance(event, AcceptConnection), event
        return client

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def next_event(self) -> Any:
        with trio.fail_after(5):
            while not self.pending:
                data = await self.stream.receive_some(65536)
                assert data, "the server closed the connection without a close frame"
                self.ws.receive_data(data)
                self.pending.extend(self.ws.events())
        event = self.pending.pop(0)
        assert not isinstance(event, RejectConnection), event
        return event

    async def expect_close(self) -> CloseConnection:
        """The server's close frame, then the end of the connection."""
        event = await self.next_event()
        while isinstance(event, TextMessage):  # messages sent before the close may still be in flight
            event = await self.next_event()
        assert isinstance(event, CloseConnection), event
        with trio.fail_after(5):
            while await self.stream.receive_some(65536):
                pass
        return event
