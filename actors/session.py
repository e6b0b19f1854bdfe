"""The session actor: one per WebSocket, between a client and the other actors.

Contract:

* **Actor id** ``session:<user_id>:<n>``. It runs in the task that owns the
  socket (Hypercorn's connection task, under the server's root nursery) and
  is supervised there by :func:`run_session` with a *temporary* policy: a
  session is never restarted, because its client must reconnect anyway.
* **Task**: one, the reader (frame -> :mod:`actors.frames` command -> a
  ``tell`` to a room or the registry). The reader waits on a busy room
  (backpressure to the client); no other actor ever waits on this session.
* **Out**: rooms and the registry answer by putting encoded frames into the
  bounded outbox through the :class:`actors.handle.SessionHandle`; so does
  the reader for errors and ``pong``, and the heartbeat for pings. Each
  delivery schedules the session with the :mod:`actors.writer`, which
  writes the whole backlog at once (:meth:`Session.flush`). An outbox that
  overflows closes the session 1013.
* **Closing**: the client leaving ends the session; so does a close requested
  by another actor (1013 too slow, 1001 shutdown) or the token expiring
  (4401, a deadline on the session's cancel scope). On the way out the
  session sends its close frame, leaves every room it joined and
  unregisters, then waits briefly for the client's close frame, all
  shielded from cancellation and bounded in time; the close frame may wait
  behind a write to a slow socket for up to ``close_timeout``, after which
  the connection is dropped.
* **Failure policy**: an exception is logged once as ``crashed`` with its
  traceback and the socket is closed with 1011; nothing else is affected.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, assert_never

import trio

from actors.flood import FloodLimit, FloodSettings
from actors.frames import (
    AskOnline,
    Command,
    FrameError,
    Join,
    Leave,
    OutFrame,
    Ping,
    SendGroup,
    SendPrivate,
    encode,
    error_frame,
    frame_size,
    parse_command,
    ref_of,
    with_ref,
)
from actors.handle import CLOSE_GOING_AWAY, CLOSE_INTERNAL, CLOSE_NORMAL, CLOSE_TOKEN_EXPIRED, SessionHandle
from actors.logs import supervision_event
from actors.messages import (
    JoinRoom,
    LeaveRoom,
    ListMembers,
    ListOnline,
    PostGroup,
    RegisterSession,
    RegistryMsg,
    RoomMsg,
    RoutePrivate,
    SessionGone,
    UnregisterSession,
)
from actors.ref import ActorGone, ActorRef
from storage.interface import User

_numbers = itertools.count(1)

WRITE_BATCH = 256
"""Most frames one socket write carries; bounds the bytes a single write holds."""


class Transport(Protocol):
    """The socket as the session sees it (:class:`web.ws_transport.WebSocketTransport`).

    ``receive`` returns whole messages; writes take complete frames as
    bytes; every method raises :class:`TransportClosed` once the client has
    gone, with the reason in words.
    """

    async def receive(self) -> str | bytes: ...

    def write_now(self, data: bytes) -> int:
        """Write what the socket takes without waiting; the number of bytes written."""
        ...

    async def send(self, data: bytes) -> None:
        """Write all of ``data``, waiting for the socket as long as it takes."""
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


class Writer(Protocol):
    def schedule(self, session: Session) -> None: ...


class TransportClosed(Exception):
    """The client has gone (or broke the protocol and was closed); raised by a transport's send or receive."""


class RoomResolver(Protocol):
    async def resolve(self, room_id: str) -> ActorRef[RoomMsg] | None: ...


@dataclass(frozen=True, slots=True)
class SessionSettings:
    outbox_capacity: int
    max_content: int
    cleanup_timeout: float = 5.0
    close_timeout: float = 5.0
    """How long the close frame may wait behind a write to a full socket; then the connection is dropped.

    Short, because a server shutting down waits for it too."""
    flood: FloodSettings | None = None
    """The client's frame rate limit (:mod:`actors.flood`); None: unlimited."""


@dataclass(frozen=True, slots=True)
class SessionToken:
    """The token a session was opened with: its id, its expiry, and whether it is still good."""

    token_id: str
    expires_at: float
    """Seconds since the epoch; the session closes with 4401 then."""
    still_good: Callable[[], bool]
    """False once the token has been logged out or replaced (a password change, logout everywhere)."""


LOGGED_OUT = "logged out: log in again and reconnect"


@dataclass(frozen=True, slots=True)
class SessionDeps:
    registry: ActorRef[RegistryMsg]
    rooms: RoomResolver
    find_user: Callable[[str], Awaitable[User | None]]
    writer: Writer


def new_session_id(user: User) -> str:
    return f"session:{user.user_id}:{next(_numbers)}"


class Session:
    def __init__(
        self,
        session_id: str,
        user: User,
        transport: Transport,
        deps: SessionDeps,
        settings: SessionSettings,
        *,
        token: SessionToken | None = None,
    ) -> None:
        self.session_id = session_id
        self.user = user
        self._transport = transport
        self._deps = deps
        self._settings = settings
        self._token = token
        self._outbox_send, self._outbox = trio.open_memory_channel[OutFrame](settings.outbox_capacity)
        self.handle = SessionHandle(
            session_id,
            user,
            self._outbox_send,
            self.request_close,
            self._queued,
            token_id=None if token is None else token.token_id,
        )
        self._joined: dict[str, ActorRef[RoomMsg]] = {}
        self._scope = trio.CancelScope()
        self._scheduled = False  # waiting for the writer's next turn
        self._draining = False  # a drain task owns the socket until the outbox is empty
        self.close_code: int | None = None
        self.close_reason = ""
        self.end_reason = "client disconnected"
        """Why the socket ended when nobody asked the session to close (the log's ``reason``)."""

    def request_close(self, code: int, reason: str) -> None:
        """Close with ``code`` as soon as possible; safe to call from any task, never waits."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._scope.cancel()

    async def run(self) -> None:
        await self._deps.registry.tell(RegisterSession(self.handle))
        token = self._token
        if token is not None and not token.still_good():
            # Logged out between the handshake's check and the registration above
            # (see web.revocation): the revocation's close could not reach us.
            self.request_close(CLOSE_TOKEN_EXPIRED, LOGGED_OUT)
        stopped_from_outside = False
        try:
            with self._scope:
                if token is not None:
                    self._scope.deadline = trio.current_time() + max(0.0, token.expires_at - time.time())
                await self._read()
            if self._scope.cancelled_caught and self.close_code is None:
                if trio.current_time() >= self._scope.deadline:
                    self.close_code = CLOSE_TOKEN_EXPIRED
                    self.close_reason = "token expired: log in again and reconnect"
        except trio.Cancelled:
            # Cancelled from outside: the server is stopping without having asked
            # this session to close (it registered too late to be asked, or the
            # shutdown ran out of time). The client still gets its 1001.
            stopped_from_outside = True
            if self.close_code is None:
                self.close_code, self.close_reason = CLOSE_GOING_AWAY, "server shutting down"
            raise
        finally:
            # The close frame goes first: a client is told at once why it is
            # closed (at shutdown every session is, while the rooms are busy
            # with everyone's departure), and leaving the rooms overlaps with
            # the client's answer being on its way.
            if self.close_code is not None:
                with trio.move_on_after(self._settings.close_timeout, shield=True) as waited:
                    await self._transport.send_close(self.close_code, self.close_reason)
                if waited.cancelled_caught:
                    self._transport.abort()
            with trio.move_on_after(self._settings.cleanup_timeout, shield=True):
                await self._leave_everything()
            if self.close_code is not None and not stopped_from_outside:
                with trio.CancelScope(shield=True):
                    await self._transport.await_close_reply()

    async def _leave_everything(self) -> None:
        self._outbox_send.close()
        gone = SessionGone(self.handle)
        refs: list[ActorRef[RoomMsg] | ActorRef[RegistryMsg]] = list(self._joined.values())
        self._joined.clear()
        for ref in refs:
            with contextlib.suppress(ActorGone):  # a stopped room has nobody left to tell
                await ref.tell(gone)  # type: ignore[arg-type]
        with contextlib.suppress(ActorGone):
            await self._deps.registry.tell(UnregisterSession(self.handle))

    async def _read(self) -> None:
        max_content = self._settings.max_content
        flood = self._settings.flood
        limit = None if flood is None else FloodLimit(flood, trio.current_time())
        while True:
            try:
                frame = await self._transport.receive()
            except TransportClosed as gone:
                if gone.args:
                    self.end_reason = str(gone)
                return
            # Charged before parsing: parsing is the cost a flood would make us pay.
            if limit is not None and not limit.allow(trio.current_time(), frame_size(frame)):
                self._reply(error_frame("rate_limited", limit.refusal(), ref_of(frame)))
                continue
            await self._dispatch(parse_command(frame, max_content=max_content))

    # writing: called by the writer actor -----------------------------------

    def _queued(self) -> None:
        """A frame went into the outbox: make sure the writer comes by."""
        if not self._scheduled:
            self._scheduled = True
            self._deps.writer.schedule(self)

    def _take(self) -> tuple[bytes, bool]:
        """Up to :data:`WRITE_BATCH` queued frames as one write, and whether more wait."""
        outbox = self._outbox
        wires: list[bytes] = []
        try:
            while len(wires) < WRITE_BATCH:
                wires.append(outbox.receive_nowait().wire)
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return b"".join(wires), False
        return b"".join(wires), True

    def flush(self) -> bytes | None:
        """Write the backlog in one go without waiting; return what the socket did not take.

        A session that receives a burst pays for one system call instead of
        one per frame. While a drain owns the socket this does nothing: the
        drain picks up the new frames after the write it is finishing.
        """
        self._scheduled = False
        if self._draining:
            return None
        data, more = self._take()
        if not data:
            return None
        try:
            written = self._transport.write_now(data)
        except TransportClosed:
            self._scope.cancel()
            return None
        if written < len(data):
            self._draining = True
            return data[written:]
        if more:
            self._queued()
        return None

    async def drain(self, rest: bytes) -> None:
        """Finish a write the socket took only part of, then everything queued behind it."""
        try:
            while rest:
                await self._transport.send(rest)
                rest, _ = self._take()
        except TransportClosed:
            self._scope.cancel()
        finally:
            self._draining = False

    def _reply(self, frame: OutFrame) -> None:
        self.handle.deliver(frame)

    async def _room(self, room_id: str, ref: object) -> ActorRef[RoomMsg] | None:
        room = self._joined.get(room_id) or await self._deps.rooms.resolve(room_id)
        if room is None:
            self._reply(error_frame("room_not_found", f"there is no room {room_id!r}", ref))  # type: ignore[arg-type]
        return room

    async def _tell_room(self, room_id: str, message: RoomMsg, ref: object) -> ActorRef[RoomMsg] | None:
        """Tell the room ``message``; the ref that took it, or None when there is no such room.

        A room with no member stops after a while. A ref taken just before
        meets ActorGone; the room resolved again is a new actor that takes the
        message (a second ActorGone means the server is stopping).
        """
        room = await self._room(room_id, ref)
        if room is None:
            return None
        try:
            await room.tell(message)
        except ActorGone:
            self._joined.pop(room_id, None)
            room = await self._room(room_id, ref)
            if room is None:
                return None
            await room.tell(message)
        return room

    async def _dispatch(self, command: Command | FrameError) -> None:
        match command:
            case SendGroup(room_id, content, ref):
                await self._tell_room(room_id, PostGroup(self.handle, content, ref), ref)
            case SendPrivate(target_id, content, ref):
                target = await self._deps.find_user(target_id)
                if target is None:
                    self._reply(error_frame("user_not_found", f"there is no user {target_id!r}", ref))
                else:
                    await self._deps.registry.tell(RoutePrivate(self.handle, target, content, ref))
            case Join(room_id, ref):
                room = await self._tell_room(room_id, JoinRoom(self.handle, ref), ref)
                if room is not None:
                    self._joined[room_id] = room
            case Leave(room_id, ref):
                if await self._tell_room(room_id, LeaveRoom(self.handle, ref), ref) is not None:
                    self._joined.pop(room_id, None)
            case AskOnline(None, ref):
                await self._deps.registry.tell(ListOnline(self.handle, ref))
            case AskOnline(room_id, ref) if room_id is not None:
                await self._tell_room(room_id, ListMembers(self.handle, ref), ref)
            case Ping(ref):
                self._reply(encode(with_ref({"type": "pong"}, ref)))
            case FrameError(code, message, ref):
                self._reply(error_frame(code, message, ref))
            case _:
                assert_never(command)  # type: ignore[arg-type]


async def run_session(session: Session, transport: Transport) -> None:
    """Supervise one session: log its life once, and close 1011 if it crashes."""
    actor = session.session_id
    supervision_event(actor, "started", parent="sessions")
    reason = "cancelled: the server stopped before the session ended"
    try:
        await session.run()
        reason = session.end_reason
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        supervision_event(actor, "crashed", parent="sessions", reason=reason, exc=exc)
        with trio.move_on_after(2, shield=True):
            await transport.close(CLOSE_INTERNAL, "internal error")
        reason = "crashed; closed with 1011, not restarted (the client reconnects)"
    finally:
        if session.close_code is not None and session.close_code != CLOSE_NORMAL:
            reason = f"closed with {session.close_code}: {session.close_reason}"
        supervision_event(actor, "stopped", parent="sessions", reason=reason)
