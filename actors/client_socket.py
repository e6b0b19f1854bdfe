"""The client's socket as the actors see it: what a session reads and an outbox writes.

:class:`transport.websocket.WebSocketTransport` is the one implementation;
the actors depend on this protocol only, so they know nothing of Hypercorn,
RFC 6455 or TCP.
"""

from __future__ import annotations

from typing import Protocol


class TransportClosed(Exception):
    """The client has gone (or broke the protocol and was closed); the message says why in words."""


class ClientSocket(Protocol):
    """Every method raises :class:`TransportClosed` once the client has gone."""

    async def receive(self) -> str | bytes:
        """The next whole message: text, or bytes for a binary one."""
        ...

    def write_now(self, data: bytes) -> int:
        """Write what the socket takes without waiting; the number of bytes written."""
        ...

    async def send(self, data: bytes) -> None:
        """Write all of ``data`` (complete frames), waiting for the socket as long as it takes."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """:meth:`send_close`, then :meth:`await_close_reply`."""
        ...

    async def send_close(self, code: int, reason: str) -> None:
        """Send the close frame; frames queued after it are dropped, never written."""
        ...

    async def await_close_reply(self) -> None:
        """Wait briefly for the client to answer the close frame (or go)."""
        ...

    def abort(self) -> None:
        """Drop the connection without a close frame (the client stopped reading)."""
        ...
