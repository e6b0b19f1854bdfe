"""The session's half of block lists: the private-message gate, the online list, block and unblock.

A session reads its user's relations (:class:`actors.block_lists.BlockLists`,
from memory once loaded) before it hands a private message to the registry
or asks it for the site-wide online list, so that the registry never waits
for the database. The gate runs on the sender's process, which holds the
sender's relations, both ways: a message between users of whom either
blocks the other is refused with ``blocked`` before anything is stored or
sent, and the target hears nothing of it. The refusal has one code for
both directions; its message tells the blocker what to do (unblock) and
tells the blocked user only that this user takes no private messages from
them, nothing about when or whether they are online.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.block_lists import BlockLists as BlockLists  # the session's dependency, for its type
from actors.block_lists import BlockRefused, Relations
from actors.handle import SessionHandle
from actors.messages import ListOnline, RoutePrivate
from wire import events
from wire.blocks import ChangeBlock as ChangeBlock  # the command, for the session's dispatch
from wire.commands import Ref, SendPrivate
from wire.shapes import User

if TYPE_CHECKING:
    from actors.session import SessionDeps

YOU_BLOCK = "you have blocked this user: unblock them to send them private messages"
THEY_BLOCK = "this user does not accept private messages from you"


def refusal(relations: Relations, peer_id: str) -> str:
    """What the sender is told: the blocker learns how to undo it, the blocked user nothing more than the refusal."""
    return YOU_BLOCK if peer_id in relations.blocks else THEY_BLOCK


async def _relations(session: SessionHandle, deps: SessionDeps, ref: Ref) -> Relations | None:
    """The session's user's relations; None (and ``internal`` to the client) when they cannot be read."""
    assert deps.blocks is not None
    try:
        return await deps.blocks.relations(session.user.user_id)
    except Exception as exc:  # the database: nothing was done, the client may send it again
        message = f"the block list could not be read ({type(exc).__name__}); send it again"
        session.deliver(events.error_frame("internal", message, ref))
        return None


async def reachable(
    target_id: str, session: SessionHandle, deps: SessionDeps, ref: Ref, *, what: str = "private messages"
) -> User | None:
    """The target user, once found and past the block gate; None when refused (the session is told why).

    ``what`` names what the gate stops in the refusal (private messages, invites).
    """
    target = await deps.find_user(target_id)
    if target is None:
        session.deliver(events.error_frame("user_not_found", f"there is no user {target_id!r}", ref))
        return None
    if deps.blocks is not None and target.user_id != session.user.user_id:
        relations = await _relations(session, deps, ref)
        if relations is None:
            return None
        if relations.bars(target.user_id):
            message = refusal(relations, target.user_id).replace("private messages", what)
            session.deliver(events.error_frame("blocked", message, ref))
            return None
    return target


async def send_private(command: SendPrivate, session: SessionHandle, deps: SessionDeps) -> None:
    """Find the target, pass the block gate, then hand the message to the registry."""
    target = await reachable(command.target_id, session, deps, command.ref)
    if target is not None:
        await deps.registry.tell(RoutePrivate(session, target, command.content, command.ref))


async def ask_online(session: SessionHandle, ref: Ref, deps: SessionDeps) -> None:
    """The site-wide online list, without the users who block the session's user."""
    hidden: frozenset[str] = frozenset()
    if deps.blocks is not None:
        relations = await _relations(session, deps, ref)
        if relations is None:
            return
        hidden = relations.blocked_by
    await deps.registry.tell(ListOnline(session, ref, hidden))


async def request_block(command: ChangeBlock, session: SessionHandle, deps: SessionDeps) -> None:
    """``block`` or ``unblock``: answered ``block_changed`` with the list as it stands, or a documented refusal."""
    ref, blocks = command.ref, deps.blocks
    if blocks is None:
        session.deliver(events.error_frame("internal", "this server keeps no block lists", ref))
        return
    try:
        done = await blocks.change(session.user, command.user_id, command.block, skip=session.session_id)
    except BlockRefused as refused:
        session.deliver(events.error_frame(refused.code, refused.message, ref))
        return
    except Exception as exc:  # the database: nothing was changed, the client may send it again
        message = f"the block list could not be changed ({type(exc).__name__}); send it again"
        session.deliver(events.error_frame("internal", message, ref))
        return
    session.deliver(events.block_changed(done.user, done.blocked, ref))
