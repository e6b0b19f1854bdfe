"""The session actor: one per WebSocket, between a client and the other actors.

Contract:

* **Actor id** ``session:<user_id>:<n>``. It runs in the task that owns the
  socket (Hypercorn's connection task, under the server's root nursery) and
  is supervised there by :func:`run_session` with a *temporary* policy: a
  session is never restarted, because its client must reconnect anyway.
* **Task**: one, the reader (frame -> :mod:`wire.commands` command -> a
  ``tell`` to a room or the registry). The reader waits on a busy room
  (backpressure to the client); no other actor ever waits on this session.
* **Out**: rooms and the registry put encoded frames into the session's
  :class:`actors.outbox.Outbox` through its :class:`actors.handle.SessionHandle`;
  so do the reader (errors, ``pong``) and the heartbeat (pings). The writer
  actor empties it (:mod:`actors.writer`); one that overflows closes the
  session 1013. The client's own ``join`` and ``leave`` of a room that
  exists are noted, without waiting, for the user's next login (:mod:`actors.joined_rooms`).
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

from actors.block_request import BlockLists, ChangeBlock, ask_online, request_block, send_private
from actors.client_socket import ClientSocket, TransportClosed
from actors.flood import FloodLimit, FloodSettings
from actors.handle import SessionHandle
from actors.invite_request import AnswerInvite, InviteUser, answer_invite, request_invite
from actors.joined_rooms import JoinedRooms
from actors.logs import supervision_event
from actors.messages import (
    JoinRoom,
    LeaveRoom,
    ListMembers,
    PostGroup,
    RegisterSession,
    RegistryMsg,
    RoomMsg,
    SessionGone,
    SyncPrivate,
    UnregisterSession,
)
from actors.moderation_request import Moderate, SiteAdmins, request_moderation
from actors.outbox import Outbox
from actors.read_markers import ReadMarkers
from actors.read_request import request_read
from actors.ref import ActorGone, ActorRef
from actors.revisions import RevisionSettings, request_revision
from actors.typing_request import request_typing
from actors.watch_request import WatchPresence, request_watch
from storage.interface import Invitations
from wire import close_codes, events
from wire.commands import (
    AskOnline,
    Command,
    Delete,
    Edit,
    FrameError,
    Join,
    Leave,
    MarkRead,
    Ping,
    Ref,
    Refresh,
    SendGroup,
    SendPrivate,
    Sync,
    Typing,
    frame_size,
    parse_command,
    ref_of,
)
from wire.events import OutFrame
from wire.shapes import User

_numbers = itertools.count(1)


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
    schedule: Callable[[Outbox], None]
    """The writer actor's :meth:`actors.writer.Writer.schedule`."""
    check_token: Callable[[str], Awaitable[tuple[str, SessionToken] | None]] | None = None
    """For ``refresh``: the user id and token of a valid token, or None (forged, expired, logged out)."""
    read_markers: ReadMarkers | None = None
    """For ``read``: where markers are checked, coalesced and written (None: ``read`` is refused)."""
    joined_rooms: JoinedRooms | None = None
    """Told of every ``join`` and ``leave`` of a room that exists, for the user's next login (None: not kept)."""
    moderation: SiteAdmins | None = None  # for the moderation commands (None: they are refused)
    blocks: BlockLists | None = None  # private-message gate, online filter, (un)block (None: none)
    invitations: Invitations | None = None  # private rooms' invites (None: refused)
    revisions: RevisionSettings | None = None  # for edit and delete (None: they are refused)


def new_session_id(user: User) -> str:
    return f"session:{user.user_id}:{next(_numbers)}"


class Session:
    def __init__(
        self,
        session_id: str,
        user: User,
        transport: ClientSocket,
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
        self._scope = trio.CancelScope()
        self.outbox = Outbox(
            session_id,
            transport,
            settings.outbox_capacity,
            schedule=deps.schedule,
            on_overflow=self.request_close,
            on_gone=self._scope.cancel,
        )
        self.handle = SessionHandle(
            session_id,
            user,
            self.outbox,
            self.request_close,
            token_id=None if token is None else token.token_id,
        )
        self._joined: dict[str, ActorRef[RoomMsg]] = {}
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
            self.request_close(close_codes.TOKEN_EXPIRED, LOGGED_OUT)
        stopped_from_outside = False
        try:
            with self._scope:
                if token is not None:
                    self._scope.deadline = trio.current_time() + max(0.0, token.expires_at - time.time())
                await self._read()
            if self._scope.cancelled_caught and self.close_code is None:
                if trio.current_time() >= self._scope.deadline:
                    self.close_code = close_codes.TOKEN_EXPIRED
                    self.close_reason = "token expired: log in again and reconnect"
        except trio.Cancelled:
            # Cancelled from outside: the server is stopping without having asked
            # this session to close (it registered too late to be asked, or the
            # shutdown ran out of time). The client still gets its 1001.
            stopped_from_outside = True
            if self.close_code is None:
                self.close_code, self.close_reason = close_codes.GOING_AWAY, "server shutting down"
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
        self.outbox.close()
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
                self._reply(events.error_frame("rate_limited", limit.refusal(), ref_of(frame)))
                continue
            await self._dispatch(parse_command(frame, max_content=max_content))

    def _reply(self, frame: OutFrame) -> None:
        self.handle.deliver(frame)

    async def _room(self, room_id: str, ref: object) -> ActorRef[RoomMsg] | None:
        room = self._joined.get(room_id) or await self._deps.rooms.resolve(room_id)
        if room is None:
            self._reply(events.error_frame("room_not_found", f"there is no room {room_id!r}", ref))  # type: ignore[arg-type]
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

    async def _refresh(self, token: str, ref: Ref) -> None:
        """Go on with ``token``: same user, else ``forbidden``; its expiry becomes the session's."""
        check = self._deps.check_token
        checked = None if check is None else await check(token)
        if checked is None:
            self._reply(
                events.error_frame(
                    "forbidden", "the token is not valid (expired or logged out?): log in", ref
                )
            )
            return
        user_id, fresh = checked
        if user_id != self.user.user_id:
            self._reply(
                events.error_frame("forbidden", "the token is another user's: refresh with your own", ref)
            )
            return
        self._token = fresh
        self.handle.token_id = fresh.token_id
        self._scope.deadline = trio.current_time() + max(0.0, fresh.expires_at - time.time())
        self._reply(events.refreshed(max(0, int(fresh.expires_at - time.time())), ref))

    def _remember(self, room_id: str, *, joined: bool) -> None:
        """Note the client's own join or leave for the user's next login (a disconnect is neither)."""
        if self._deps.joined_rooms is not None:
            self._deps.joined_rooms.note(self.user.user_id, room_id, joined)

    async def _dispatch(self, command: Command | FrameError) -> None:
        match command:
            case SendGroup(room_id, content, ref):
                await self._tell_room(room_id, PostGroup(self.handle, content, ref), ref)
            case SendPrivate():
                await send_private(command, self.handle, self._deps)
            case Join(room_id, ref, since):
                room = await self._tell_room(room_id, JoinRoom(self.handle, ref, since), ref)
                if room is not None:
                    self._joined[room_id] = room
                    self._remember(room_id, joined=True)
            case Leave(room_id, ref):
                if await self._tell_room(room_id, LeaveRoom(self.handle, ref), ref) is not None:
                    self._joined.pop(room_id, None)
                    self._remember(room_id, joined=False)
            case AskOnline(None, ref):
                await ask_online(self.handle, ref, self._deps)
            case AskOnline(room_id, ref) if room_id is not None:
                await self._tell_room(room_id, ListMembers(self.handle, ref), ref)
            case Ping(ref):
                self._reply(events.pong(ref))
            case Sync(since, ref):
                await self._deps.registry.tell(SyncPrivate(self.handle, since, ref))
            case Refresh(token, ref):
                await self._refresh(token, ref)
            case MarkRead():
                await request_read(command, self.handle, self._deps)
            case Moderate():
                await request_moderation(command, self.handle, self._deps, self._tell_room)
            case ChangeBlock():
                await request_block(command, self.handle, self._deps)
            case InviteUser():
                await request_invite(command, self.handle, self._deps)
            case AnswerInvite():
                await answer_invite(command, self.handle, self._deps, self._tell_room)
            case Typing():
                await request_typing(command, self.handle, self._deps, self._tell_room)
            case WatchPresence():
                await request_watch(command, self.handle, self._deps)
            case Edit() | Delete():
                await request_revision(command, self.handle, self._deps, self._tell_room)
            case FrameError(code, message, ref):
                self._reply(events.error_frame(code, message, ref))
            case _:
                assert_never(command)  # type: ignore[arg-type]


async def run_session(session: Session, transport: ClientSocket) -> None:
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
            await transport.close(close_codes.INTERNAL, "internal error")
        reason = "crashed; closed with 1011, not restarted (the client reconnects)"
    finally:
        if session.close_code is not None and session.close_code != close_codes.NORMAL:
            reason = f"closed with {session.close_code}: {session.close_reason}"
        supervision_event(actor, "stopped", parent="sessions", reason=reason)
